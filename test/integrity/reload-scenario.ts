/**
 * The config-reload tests' script, shared by the SIGHUP and the file-watch test, which differ
 * only in what makes the running `diffiqa-gate run` re-read its file: three phases of frames
 * (a: shadow, b: after a file that does not load, c: after a good one that rejects everything,
 * enforced), then the verdict over every outcome.
 */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { expect } from 'vitest';
import {
  cropFactory, drained, gateSettings, nestSettings, produce, readInputs, readOutcomes, tally, testClient, uniqueNames, waitFor,
  type ChildGate, type KafkaClientKind, type RunNames,
} from '../helpers/gate-harness.js';
import { terminate, waitForLogCount, type ChildGateSuite } from './support.js';

const PARTITIONS = 2;

export interface ReloadScenario {
  gates: ChildGateSuite;
  kind: KafkaClientKind;
  /** Names the run's topics and group, and the verdict's log line. */
  name: string;
  /** Settings beside the harness's (log level info and the message size are set here). */
  extra?: Record<string, unknown>;
  /** Makes the child re-read its file after each write (a signal), or nothing (the file watch). */
  trigger(child: ChildGate): void;
  /** After the shadow phase is committed, before the first rewrite. */
  afterShadow?(): Promise<void>;
  /** After the enforced phase is committed, before the child is stopped. */
  afterEnforced?(): Promise<void>;
}

export async function runReloadScenario(o: ReloadScenario): Promise<void> {
  const names = uniqueNames(o.name, o.kind);
  const client = testClient(names.run, names.client);
  const admin = client.admin();
  const { factory, codec } = await cropFactory(names, o.gates.fx, 64_000);
  const file = `${o.gates.dir}/${names.run}.yaml`;
  const settings = gateSettings(names, o.gates.fx, { 'log.level': 'info', 'kafka.maxMessageBytes': 64_000, ...o.extra });
  const write = (cameras: unknown) => writeFile(file, stringify({ ...nestSettings(settings), cameras }));
  const phase = async (p: string, count: number, what: string) => {
    await produce(client, names.topics.input, await factory.stream(`${names.run}-${p}`, count, 0), { partitions: PARTITIONS });
    await waitFor(what, () => drained(admin, names.groupId, names.topics.input), 60_000);
  };
  try {
    await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
    await write({ 'cam-*': { mode: 'shadow' } });
    const child = o.gates.children.start(file);
    await child.waitForLog('gate running', 60_000);
    await phase('a', 100, 'the shadow frames to be committed');
    await o.afterShadow?.();

    await write({ 'cam-*': { mode: 'off' } });
    o.trigger(child);
    await waitForLogCount(child, 'config reload failed: the running policy stays', 1, 10_000);
    await phase('b', 50, 'the frames after the bad file to be committed');

    await write({ 'cam-*': { accept: 1e9, reject: 1e9 } });
    o.trigger(child);
    await waitForLogCount(child, 'config reload: camera policy applied', 1, 10_000);
    await phase('c', 100, 'the enforced frames to be committed');
    await o.afterEnforced?.();
    expect(await terminate(child, 30_000), child.stderr().slice(-3000)).toBe(0);

    await expectReloadPhases(admin, codec, names, `${o.name} (${o.kind})`);
  } finally {
    await admin.close();
  }
}

/**
 * The reload tests' verdict: every input of the three phases (a: before, b: after a bad file,
 * c: after a good one) has exactly one outcome, and the events say the bad file changed nothing
 * while the good one (reject everything, enforced) applied from the frames after it.
 */
export async function expectReloadPhases(admin: ReturnType<ReturnType<typeof testClient>['admin']>, codec: Parameters<typeof readOutcomes>[1], names: RunNames, label: string): Promise<void> {
  const inputs = await readInputs(admin, names.topics.input);
  const outcomes = await readOutcomes(admin, codec, names.topics);
  const t = tally(inputs, outcomes);
  expect(t.missing).toEqual([]);
  expect([...t.duplicates]).toEqual([]);
  const events = outcomes.flatMap((o) => (o.type === 'event' ? [o.event] : []));
  const phase = (p: string) => events.filter((e) => e.frameId.startsWith(`${names.run}-${p}-`));
  const summary = (p: string) => [...new Set(phase(p).map((e) => `${e.enforced ? 'enforced' : 'shadow'} ${e.thresholds.accept === 1e9 ? 'reject-all' : 'global'}`))];
  console.log(`${label}: ${inputs.length} inputs; before: ${summary('a')}, after the bad file: ${summary('b')}, after the good one: ${summary('c')}`);
  expect([phase('a').length, phase('b').length, phase('c').length]).toEqual([100, 50, 100]);
  expect([summary('a'), summary('b'), summary('c')]).toEqual([['shadow global'], ['shadow global'], ['enforced reject-all']]);
  expect(new Set(phase('c').map((e) => e.decision))).toEqual(new Set(['REJECT']));
}


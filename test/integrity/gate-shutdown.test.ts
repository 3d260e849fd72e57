/**
 * The gate as users run it (`diffiqa-gate run --config FILE`, built CLI, child process) on the
 * real broker: SIGTERM mid-stream drains and exits 0 within the deadline having committed only
 * what it published; a restart finishes the rest; nothing is lost. Also: a bad config exits 2.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareFixtureModels, type FixtureModels } from '../helpers/fixture-models.js';
import {
  KAFKA_CLIENTS, assertBroker, builtBin, cropFactory, drained, gateSettings, logLines, nestSettings, produce, readInputs, readOutcomes, spawnGate, sumCommitted, tally,
  tempDir, testClient, uniqueNames, waitFor, type ChildGate,
} from '../helpers/gate-harness.js';

const COUNT = 1000;
const BAD = 20;
const PARTITIONS = 3;
const DEADLINE_MS = 10_000;
const MAX_MESSAGE_BYTES = 64_000;

let fx: FixtureModels;
let tmp: Awaited<ReturnType<typeof tempDir>>;
const children: ChildGate[] = [];

beforeAll(async () => {
  builtBin();
  await assertBroker();
  fx = await prepareFixtureModels();
  tmp = await tempDir('diffiqa-shutdown-');
});

afterAll(async () => {
  // A failed test must not leave a gate running in the group.
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await tmp?.cleanup();
  await fx?.cleanup();
});

function start(configFile: string): ChildGate {
  const child = spawnGate(configFile, fx.env);
  children.push(child);
  return child;
}

/** SIGTERM, then the exit code and how long the drain took. */
async function terminate(child: ChildGate): Promise<{ code: number | string; ms: number }> {
  const t0 = performance.now();
  child.proc.kill('SIGTERM');
  const code = await Promise.race([child.exited, new Promise<string>((r) => setTimeout(() => r('still running'), DEADLINE_MS + 10_000))]);
  return { code, ms: performance.now() - t0 };
}

describe.each(KAFKA_CLIENTS)('diffiqa-gate run (child process, real broker) (%s)', (kind) => {
  it('run should drain on SIGTERM, exit 0 within the deadline, and finish every input after a restart', async () => {
    const names = uniqueNames('shutdown', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, fx, MAX_MESSAGE_BYTES);
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      await produce(client, names.topics.input, await factory.stream(names.run, COUNT, BAD), { partitions: PARTITIONS });
      const configFile = path.join(tmp.dir, `${names.run}.yaml`);
      await writeFile(configFile, stringify(nestSettings(gateSettings(names, fx, {
        'kafka.maxMessageBytes': MAX_MESSAGE_BYTES, 'gate.inFlightPerPartition': 16, 'shutdown.deadlineMs': DEADLINE_MS, 'log.level': 'info',
      }))));

      const first = start(configFile);
      await first.waitForLog('gate running', 60_000);
      // Mid-stream: some offsets committed, most not yet.
      await waitFor('the child gate to commit its first inputs', async () => (await sumCommitted(admin, names.groupId, names.topics.input)) >= 100, 60_000, 50);
      const stop = await terminate(first);
      const committedAfterStop = await admin.committedOffsets(names.groupId, names.topics.input);
      const firstCommitted = [...committedAfterStop.values()].reduce((s, o) => s + Number(o), 0);
      const stopped = logLines(first.stderr(), 'stopped')[0];
      console.log(`shutdown: SIGTERM after the gate committed ≥100 of ${COUNT}; exit ${stop.code} in ${stop.ms.toFixed(0)} ms (deadline ${DEADLINE_MS} ms); ` +
        `committed ${firstCommitted} at exit; gate counts ${JSON.stringify({ records: stopped?.records, published: stopped?.published, commits: stopped?.commits })}`);
      expect(stop.code, first.stderr().slice(-3000)).toBe(0);
      expect(stop.ms).toBeLessThan(DEADLINE_MS);
      expect(stopped?.clean).toBe(true);
      expect(firstCommitted).toBeLessThan(COUNT);

      // Committed only what was published: every input below a committed offset has its outcome.
      const inputs = await readInputs(admin, names.topics.input);
      const early = tally(inputs, await readOutcomes(admin, codec, names.topics));
      const unpublishedButCommitted = early.missing.filter((i) => BigInt(i.offset) < BigInt(committedAfterStop.get(i.partition) ?? '0'));
      expect(unpublishedButCommitted.map((i) => i.source)).toEqual([]);
      expect(stopped?.published).toBe(inputs.length - early.missing.length);

      const second = start(configFile);
      await second.waitForLog('gate running', 60_000);
      const drainMs = await waitFor('the restarted gate to commit every input offset', () => drained(admin, names.groupId, names.topics.input), 60_000);
      const stop2 = await terminate(second);
      console.log(`shutdown: restart drained the remaining ${COUNT - firstCommitted} in ${drainMs.toFixed(0)} ms; second exit ${stop2.code} in ${stop2.ms.toFixed(0)} ms`);
      expect(stop2.code, second.stderr().slice(-3000)).toBe(0);

      const t = tally(inputs, await readOutcomes(admin, codec, names.topics));
      const dupTotal = [...t.duplicates.values()].reduce((s, n) => s + n - 1, 0);
      console.log(`shutdown: ${inputs.length} inputs, ${t.missing.length} without outcome, ${dupTotal} duplicates`);
      expect(t.missing.map((i) => i.source)).toEqual([]);
      expect(t.strays).toEqual([]);
      // A clean drain commits what it published and publishes nothing it does not commit.
      expect([...t.duplicates]).toEqual([]);
    } finally {
      await admin.close();
    }
  }, 90_000);

  it('run should exit 2 naming the key when the config is invalid', async () => {
    for (const [name, config, key] of [
      ['out-of-range', { gate: { inFlightPerPartition: 0 } }, 'gate.inFlightPerPartition'],
      ['unknown-key', { kafka: { inputTopik: 'x' } }, 'kafka.inputTopik'],
    ] as const) {
      const file = path.join(tmp.dir, `${name}.yaml`);
      await writeFile(file, stringify(config));
      const child = start(file);
      const code = await Promise.race([child.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
      expect(code, child.stderr()).toBe(2);
      expect(child.stderr()).toContain('CONFIG_INVALID');
      expect(child.stderr()).toContain(`"${key}"`);
    }
  }, 60_000);
});

/**
 * The crash scenario shared by crash.test.ts (at-least-once) and exactly-once.test.ts: crops flow
 * into the input topic while the gate (built CLI, child process) is SIGKILLed several times in
 * the middle of its work and restarted each time; then everything is read back.
 */
import type { FixtureModels } from '../helpers/fixture-models.js';
import {
  cropFactory, drained, produce, readInputs, readOutcomes, sumCommitted, tally, testClient, uniqueNames, waitFor,
  type InputRecord, type KafkaClientKind, type Tally,
} from '../helpers/gate-harness.js';
import { Children, killHard, terminate, writeGateConfig } from './support.js';

export interface CrashOptions {
  prefix: string;
  kind: KafkaClientKind;
  mode: 'at_least_once' | 'exactly_once';
  count: number;
  bad: number;
  partitions: number;
  inFlight: number;
  kills: number;
  maxMessageBytes: number;
  tmpDir: string;
  fx: FixtureModels;
  children: Children;
}

export interface KillRecord {
  /** Inputs committed when the gate died (sum over partitions). */
  committed: number;
  /** Committed offset per partition right after the kill: redone work starts here. */
  offsets: Map<number, bigint>;
}

export interface CrashResult {
  inputs: InputRecord[];
  tally: Tally;
  kills: KillRecord[];
  lastExit: number | string;
  produceMs: number;
  totalMs: number;
}

export async function runCrashScenario(o: CrashOptions): Promise<CrashResult> {
  const names = uniqueNames(o.prefix, o.kind);
  const client = testClient(names.run, names.client);
  const admin = client.admin();
  const { factory, codec } = await cropFactory(names, o.fx, o.maxMessageBytes);
  try {
    await admin.createTopics([{ topic: names.topics.input, partitions: o.partitions }]);
    const configFile = await writeGateConfig(o.tmpDir, names, o.fx, {
      'kafka.maxMessageBytes': o.maxMessageBytes, 'gate.inFlightPerPartition': o.inFlight, 'delivery.mode': o.mode, 'shutdown.deadlineMs': 10_000,
    });
    const msgs = await factory.stream(names.run, o.count, o.bad);
    const t0 = performance.now();
    // A steady stream while the gate works and dies: the first kills land while crops still arrive.
    let produceMs = 0;
    const producing = produce(client, names.topics.input, msgs, { partitions: o.partitions, batch: 100, pauseMs: 50 }).then(() => { produceMs = performance.now() - t0; });

    let child = o.children.start(configFile);
    await child.waitForLog('gate running', 60_000);
    const kills: KillRecord[] = [];
    for (let k = 1; k <= o.kills; k++) {
      const target = Math.floor((k * o.count) / (o.kills + 1));
      await waitFor(`the gate to commit ${target} inputs before kill ${k}`, async () => (await sumCommitted(admin, names.groupId, names.topics.input)) >= target, 90_000, 25)
        .catch((err: Error) => { throw new Error(`${err.message}; the gate's log ends:\n${child.stderr().slice(-4000)}`); });
      await killHard(child);
      const offsets = await admin.committedOffsets(names.groupId, names.topics.input);
      kills.push({ committed: [...offsets.values()].reduce((s, v) => s + Number(v), 0), offsets: new Map([...offsets].map(([p, v]) => [p, BigInt(v)])) });
      child = o.children.start(configFile);
      await child.waitForLog('gate running', 60_000);
    }
    await producing;
    await waitFor('the last gate to commit every input offset', () => drained(admin, names.groupId, names.topics.input), 90_000);
    const totalMs = performance.now() - t0;
    const lastExit = await terminate(child, 20_000);

    const inputs = await readInputs(admin, names.topics.input);
    return { inputs, tally: tally(inputs, await readOutcomes(admin, codec, names.topics)), kills, lastExit, produceMs, totalMs };
  } finally {
    await admin.close();
  }
}

/**
 * Duplicated inputs that no kill explains. A SIGKILL can only leave published-but-uncommitted
 * work of the chunk each partition had in flight, i.e. offsets [committed, committed + inFlight).
 */
export function unexplainedDuplicates(r: CrashResult, inFlight: number): string[] {
  const bad: string[] = [];
  for (const source of r.tally.duplicates.keys()) {
    const input = r.inputs.find((i) => i.source === source)!;
    const offset = BigInt(input.offset);
    const explained = r.kills.some((k) => {
      const from = k.offsets.get(input.partition) ?? 0n;
      return offset >= from && offset < from + BigInt(inFlight);
    });
    if (!explained || r.tally.bySource.get(source)!.length - 1 > r.kills.length) bad.push(source);
  }
  return bad;
}

/**
 * Two gates in one consumer group on the real broker, run the way issue 19 found duplicates: gate A
 * is SIGSTOPped past its session timeout (the group gives its partitions to B while A still holds
 * work it received before the pause), then resumed with SIGCONT; then B is SIGKILLed and restarted.
 *
 * exactly_once: a read_committed reader sees exactly one outcome per input. The resumed zombie A
 * must not commit its stale work nor initialise its partitions' transactional ids again (that
 * fenced B and let A commit). at_least_once: nothing lost, and the duplicates stay within the
 * documented window: per fault, at most gate.inFlightPerPartition records of each partition the
 * member held (the pause and the kill: 2 faults).
 * Needs a broker (deploy/kafka/broker.sh start), ../shared, models/ci.sh's fixtures and the build.
 */
import { describe, expect, it } from 'vitest';
import {
  KAFKA_CLIENTS, type KafkaClientKind, cropFactory, drained, logLines, produce, readInputs, readOutcomes, sumCommitted, tally, testClient, uniqueNames, waitFor, type Tally,
} from '../helpers/gate-harness.js';
import { alive, childGateSuite, killHard, recordSummary, sum, terminate, writeGateConfig } from './support.js';

const COUNT = 2400;
const PARTITIONS = 4;
const IN_FLIGHT = 16;
const SESSION_TIMEOUT_MS = 10_000;
// More than twice the session timeout, as in the issue (22 s against 10 s): A is surely evicted.
const PAUSE_MS = 22_000;
const FAULTS = 2;

const gates = childGateSuite('diffiqa-zombie-');

interface ZombieRun { inputs: number; tally: Tally; duplicates: number; disownedByA: number; totalMs: number }

async function zombieScenario(mode: 'exactly_once' | 'at_least_once', kind: KafkaClientKind): Promise<ZombieRun> {
  const names = uniqueNames(`zombie-${mode === 'exactly_once' ? 'eos' : 'alo'}`, kind);
  const client = testClient(names.run, names.client);
  const admin = client.admin();
  const { factory, codec } = await cropFactory(names, gates.fx, 64_000);
  try {
    await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
    const configFile = await writeGateConfig(gates.dir, names, gates.fx, {
      'kafka.maxMessageBytes': 64_000, 'gate.inFlightPerPartition': IN_FLIGHT, 'delivery.mode': mode,
      'kafka.sessionTimeoutMs': SESSION_TIMEOUT_MS, 'shutdown.deadlineMs': 10_000,
    });
    const a = gates.children.start(configFile);
    await a.waitForLog('gate running', 60_000);
    let b = gates.children.start(configFile);
    await b.waitForLog('gate running', 60_000);

    const t0 = performance.now();
    // A steady stream for about 40 s: work is in flight on both gates at the pause and at the kill.
    const producing = produce(client, names.topics.input, await factory.stream(names.run, COUNT, 0), { partitions: PARTITIONS, batch: 20, paceMs: 330 });
    await waitFor('both gates to have committed some work', async () => (await sumCommitted(admin, names.groupId, names.topics.input)) >= COUNT / 10, 60_000, 25);
    a.proc.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, PAUSE_MS));
    a.proc.kill('SIGCONT');
    // A resumes as a zombie, finds out, rejoins; then B dies mid-stream and comes back.
    await new Promise((r) => setTimeout(r, 3000));
    await killHard(b);
    b = gates.children.start(configFile);
    await b.waitForLog('gate running', 60_000);
    await producing;
    // Generous: both gates share two loaded cores, and the group rebalances after the restart.
    await waitFor('every input to be committed', () => drained(admin, names.groupId, names.topics.input), 120_000);
    const totalMs = performance.now() - t0;
    expect(alive(a), a.stderr().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-12).join('\n')).toBe(true);
    const exits = await Promise.all([terminate(a, 20_000), terminate(b, 20_000)]);
    expect(exits).toEqual([0, 0]);
    const stopped = logLines(a.stderr(), 'stopped')[0] as { disowned?: number };

    const inputs = await readInputs(admin, names.topics.input);
    const t = tally(inputs, await readOutcomes(admin, codec, names.topics));
    const duplicates = sum([...t.duplicates.values()].map((n) => n - 1));
    return { inputs: inputs.length, tally: t, duplicates, disownedByA: stopped?.disowned ?? 0, totalMs };
  } finally {
    await admin.close();
  }
}

describe.each(KAFKA_CLIENTS)('two gates, one paused past its session (SIGSTOP/SIGCONT, then SIGKILL, real broker) (%s)', (kind) => {
  it('run in exactly_once should give a read_committed reader exactly one outcome per input', async () => {
    const r = await zombieScenario('exactly_once', kind);
    console.log(`zombie exactly-once: ${r.inputs} inputs on ${PARTITIONS} partitions; A paused ${PAUSE_MS} ms (session ${SESSION_TIMEOUT_MS} ms), B killed; ` +
      `A dropped ${r.disownedByA} records it no longer held; ${r.tally.missing.length} lost, ${r.duplicates} duplicates read_committed; ${(r.totalMs / 1000).toFixed(0)} s`);
    expect(r.tally.missing.map((i) => i.source)).toEqual([]);
    expect([...r.tally.duplicates]).toEqual([]);
    expect(r.tally.strays).toEqual([]);
    await recordSummary({
      client: kind, test: 'zombie (exactly-once)', kinds: 1, faults: FAULTS, faultsNote: `SIGSTOP ${PAUSE_MS / 1000} s > session ${SESSION_TIMEOUT_MS / 1000} s, then SIGKILL of the other gate`,
      inputs: r.inputs, lost: r.tally.missing.length, duplicates: r.duplicates,
      notes: `two gates, one group; read_committed; the zombie dropped ${r.disownedByA} records it no longer held; ${(r.totalMs / 1000).toFixed(0)} s`,
    });
  }, 240_000);

  it('run in at_least_once should lose nothing, with duplicates within the documented window', async () => {
    const r = await zombieScenario('at_least_once', kind);
    const bound = FAULTS * PARTITIONS * IN_FLIGHT;
    console.log(`zombie at-least-once: ${r.inputs} inputs; ${r.tally.missing.length} lost, ${r.duplicates} duplicates (bound ${bound}); ${(r.totalMs / 1000).toFixed(0)} s`);
    expect(r.tally.missing.map((i) => i.source)).toEqual([]);
    expect(r.duplicates).toBeLessThanOrEqual(bound);
    await recordSummary({
      client: kind, test: 'zombie (at-least-once)', kinds: 1, faults: FAULTS, faultsNote: `SIGSTOP ${PAUSE_MS / 1000} s > session ${SESSION_TIMEOUT_MS / 1000} s, then SIGKILL of the other gate`,
      inputs: r.inputs, lost: r.tally.missing.length, duplicates: r.duplicates,
      notes: `bound ${bound} (faults × partitions × gate.inFlightPerPartition); ${(r.totalMs / 1000).toFixed(0)} s`,
    });
  }, 240_000);
});

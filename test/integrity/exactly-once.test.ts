/**
 * Exactly-once across hard crashes: `delivery.mode: exactly_once` (transactional producer, the
 * input offset inside the transaction, one transactional id per input partition). The gate (built
 * CLI, child process, real broker) is SIGKILLed three times mid-stream and restarted; a
 * read_committed reader then sees exactly one final event or dead letter per input.
 * Needs a broker (deploy/kafka/broker.sh start), ../shared, models/ci.sh's fixtures and the build.
 */
import { describe, expect, it } from 'vitest';
import { runCrashScenario } from './crash-scenario.js';
import { childGateSuite, recordSummary, sum } from './support.js';
import { KAFKA_CLIENTS } from '../helpers/gate-harness.js';

// Fewer crops than crash.test.ts: a transaction per chunk per partition is slower, and the test
// must stay under two minutes on the shared 2-core machine. The kills are what matter here.
const COUNT = 3000;
const BAD = 30;
const PARTITIONS = 3;
const IN_FLIGHT = 16;
const KILLS = 3;
const MAX_MESSAGE_BYTES = 64_000;

const gates = childGateSuite('diffiqa-eos-');

describe.each(KAFKA_CLIENTS)('gate exactly-once (SIGKILL, child process, real broker) (%s)', (kind) => {
  it('run should give a read_committed reader exactly one outcome per input after repeated SIGKILLs', async () => {
    const r = await runCrashScenario({
      kind, prefix: 'eos', mode: 'exactly_once', count: COUNT, bad: BAD, partitions: PARTITIONS, inFlight: IN_FLIGHT, kills: KILLS,
      maxMessageBytes: MAX_MESSAGE_BYTES, tmpDir: gates.dir, fx: gates.fx, children: gates.children,
    });
    const dupTotal = sum([...r.tally.duplicates.values()].map((n) => n - 1));
    console.log(`exactly-once: ${r.inputs.length} inputs on ${PARTITIONS} partitions, ${KILLS} SIGKILLs at committed ${r.kills.map((k) => k.committed).join('/')}; ` +
      `produced in ${r.produceMs.toFixed(0)} ms, drained after ${r.totalMs.toFixed(0)} ms; ${r.tally.missing.length} lost, ${dupTotal} duplicates seen read_committed`);

    expect(r.inputs).toHaveLength(COUNT);
    expect(r.tally.missing.map((i) => i.source)).toEqual([]);
    expect([...r.tally.duplicates]).toEqual([]);
    expect(r.tally.strays).toEqual([]);
    expect(r.lastExit).toBe(0);

    await recordSummary({
      client: kind, test: 'exactly-once', kinds: 1 + 7, faults: KILLS, faultsNote: 'SIGKILLs mid-transaction stream', inputs: r.inputs.length,
      lost: r.tally.missing.length, duplicates: dupTotal, notes: `read_committed; ${BAD} bad crops of 7 kinds; ${(r.totalMs / 1000).toFixed(0)} s`,
    });
  }, 120_000);
});

/**
 * A dead inference worker comes back (issue 19): killed mid-stream, the pool starts another one,
 * reloads the models into it and runs the dead worker's batch again, so no frame is dead-lettered
 * for it; /readyz says not ready while no worker is alive and ready again once one is. Before the
 * fix every later frame dead-lettered as INFER_FAILED while /readyz said ready.
 * Needs a broker (deploy/kafka/broker.sh start), ../shared and the fixtures.
 */
import { describe, expect, it } from 'vitest';
import { startGate } from '../../src/plugin/app/gate-app.js';
import { startTelemetry } from '../../src/plugin/telemetry/telemetry.js';
import {
  KAFKA_CLIENTS, cropFactory, drained, gateConfig, produce, readInputs, readOutcomes, tally, testClient, testLogger, uniqueNames, waitFor,
} from '../helpers/gate-harness.js';
import { inProcessGateSuite, recordSummary } from './support.js';

const COUNT = 600;
const KILLS = 3;
const PARTITIONS = 3;

const suite = inProcessGateSuite();

describe.each(KAFKA_CLIENTS)('inference worker death (real broker) (%s)', (kind) => {
  it('startGate should recover the frames of a killed worker, and /readyz should flip while none is alive', async () => {
    const names = uniqueNames('worker-death', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, suite.fx, 64_000);
    // One worker: while it is dead, nothing can score, which is what readiness must say.
    const cfg = gateConfig(names, suite.fx, { 'kafka.maxMessageBytes': 64_000, 'inference.workers': 1 });
    const telemetry = await startTelemetry(cfg, { role: 'gate', client, log: testLogger(), ephemeralPort: true });
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      const app = await startGate(cfg, client, testLogger(), telemetry);
      const pool = app.runtime.pool;
      const notReadySeen: string[] = [];
      const readyz = async () => (await fetch(`http://127.0.0.1:${telemetry.port}/readyz`)).status;
      let clean: boolean;
      try {
        const producing = produce(client, names.topics.input, await factory.stream(names.run, COUNT, 0), { partitions: PARTITIONS, batch: 25, paceMs: 50 });
        for (let k = 0; k < KILLS; k++) {
          await waitFor(`frames to flow before kill ${k + 1}`, () => app.gate.counts.published >= ((k + 1) * COUNT) / (KILLS + 2), 60_000, 20);
          pool.crashWorker(0);
          await waitFor(`worker ${k + 1} to die`, () => pool.liveWorkers === 0, 10_000, 5);
          // Asked at once: the restart waits a back-off and then reloads the models.
          expect(await readyz()).toBe(503);
          notReadySeen.push(...telemetry.notReady());
          // Generous on a loaded 2-core host: a restart takes a back-off (≤ 400 ms here) and one model load.
          await waitFor(`the worker to be back after kill ${k + 1}`, async () => (await readyz()) === 200, 30_000, 50);
        }
        await producing;
        await waitFor('every input to be committed', () => drained(admin, names.groupId, names.topics.input), 90_000);
      } finally {
        clean = await app.shutdown(10_000);
      }
      expect(clean).toBe(true);
      expect(pool.restarts).toBe(KILLS);
      expect(notReadySeen).toContain('no inference worker alive (restarting)');

      const inputs = await readInputs(admin, names.topics.input);
      const outcomes = await readOutcomes(admin, codec, names.topics);
      const t = tally(inputs, outcomes);
      const dead = outcomes.filter((o) => o.type === 'dlq');
      console.log(`worker-death: ${inputs.length} inputs, ${KILLS} worker kills, ${pool.restarts} restarts, ${dead.length} dead letters, ${t.missing.length} missing`);
      expect(t.missing).toEqual([]);
      expect([...t.duplicates]).toEqual([]);
      // The dead worker's batch ran again on the new one: no frame paid for the crash.
      expect(dead.map((o) => o.type === 'dlq' && o.dead.reasonCode)).toEqual([]);
      await recordSummary({
        client: kind, test: 'worker-death', kinds: 1, faults: KILLS, faultsNote: 'inference worker threads killed mid-stream (1 worker)',
        inputs: inputs.length, lost: t.missing.length, duplicates: t.duplicates.size,
        notes: `${pool.restarts} restarts; 0 dead letters; /readyz 503 while none alive, 200 after; clean stop`,
      });
    } finally {
      await telemetry.shutdown();
      await admin.close();
    }
  }, 180_000);
});

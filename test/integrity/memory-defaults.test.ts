/**
 * Memory at default settings under a backlog (issue 19): the gate (built CLI, child process, real
 * broker) starts with every default that bounds memory (gate.inFlightPerPartition 32,
 * gate.partitionsConcurrently 8, inference.maxQueue 128, inference.maxBatch 16, 2 workers,
 * face.detectionsInFlight 4, face.maxBytes 4 MB, kafka.maxMessageBytes 8 MB) in front of a backlog
 * that mixes crops with landmarks, crops without (every one through the detector) and three copies
 * of every hostile kind (9 Mpx JPEGs, decompression bombs, 8 MB messages…). Its resident set is
 * read from /proc every 100 ms until the backlog is worked off; the peak must stay under the bound
 * the test states. Only the regressor is the small fixture model, as in every integrity test.
 */
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { valueSubject } from '../../src/schemas/registry.js';
import { loadFaceSources } from '../helpers/crops.js';
import { KAFKA_CLIENTS, cropFactory, drained, produce, readInputs, readOutcomes, sleep, tally, testClient, uniqueNames, waitFor } from '../helpers/gate-harness.js';
import { hostileCorpus } from '../helpers/hostile.js';
import { alive, childGateSuite, recordSummary, rssBytes, terminate, writeGateConfig } from './support.js';

const PARTITIONS = 8;
const WITH_LANDMARKS = 1200;
const WITHOUT_LANDMARKS = 400;
const HOSTILE_COPIES = 3;
// Measured here at defaults: 540-606 MiB peak in 4 runs (2026-12-06); the issue saw 515-656 MiB in its own
// backlog runs. 768 MiB leaves room for the run-to-run spread of a shared 2-core host; the README
// states the measured figures, not this bound.
const RSS_BOUND_MB = Number(process.env.MEMORY_DEFAULTS_BOUND_MB ?? 768);

const gates = childGateSuite('diffiqa-memory-');

describe.each(KAFKA_CLIENTS)('memory at default settings (child process, real broker) (%s)', (kind) => {
  it('run should work off a mixed backlog at default settings within the stated memory bound', async () => {
    const names = uniqueNames('memory-defaults', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, gates.fx, 8_000_000);
    const { factory: bare } = await cropFactory(names, gates.fx, 8_000_000, { landmarks: false });
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      const [face] = await loadFaceSources({ count: 50, cacheFile: path.join(os.tmpdir(), 'diffiqa-integrity-lfw-landmarks-50.json'), mirrorDir: gates.fx.mirrorDir, modelCacheDir: gates.fx.cacheDir });
      const hostile = (await hostileCorpus({ codec, subject: valueSubject(names.topics.input), face, maxMessageBytes: 8_000_000, maxImageBytes: 4_000_000 }, HOSTILE_COPIES))
        .map((h) => ({ key: h.message.key === null ? 'none' : String(h.message.key), value: h.message.value ?? Buffer.alloc(0), headers: Object.fromEntries(Object.entries(h.message.headers).map(([k, v]) => [k, String(v)])), kind: 'good' as const, cameraId: '', frameId: '' }));
      const good = await factory.stream(names.run, WITH_LANDMARKS, 0);
      const noLandmarks = await bare.stream(`${names.run}-bare`, WITHOUT_LANDMARKS, 0);
      // Interleaved, so every partition's chunks mix the three.
      const backlog = [...good, ...noLandmarks, ...hostile].map((m, i) => ({ m, k: (i * 7919) % 10007 })).sort((a, b) => a.k - b.k).map((x) => x.m);
      await produce(client, names.topics.input, backlog, { partitions: PARTITIONS, batch: 20 });

      // Defaults everywhere but the names, the fixture regressor and the log level.
      const configFile = await writeGateConfig(gates.dir, names, gates.fx, {
        'inference.workers': 2, 'kafka.sessionTimeoutMs': 30_000, 'gate.escalate': true, 'shutdown.deadlineMs': 20_000,
        // For measuring what a setting changes, e.g. MEMORY_DEFAULTS_OVERRIDES='{"gate.inFlightPerPartition":8}'.
        ...JSON.parse(process.env.MEMORY_DEFAULTS_OVERRIDES ?? '{}') as Record<string, unknown>,
      });
      const gate = gates.children.start(configFile);
      const pid = gate.proc.pid!;
      let peak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling && alive(gate)) {
          peak = Math.max(peak, rssBytes(pid) ?? 0);
          await sleep(100);
        }
      })();
      await gate.waitForLog('gate running', 60_000);
      const t0 = performance.now();
      // Generous: 1,800 inputs, 400 through the detector, on two shared cores.
      await waitFor('the backlog to be worked off', () => drained(admin, names.groupId, names.topics.input), 240_000, 250);
      const workMs = performance.now() - t0;
      sampling = false;
      await sampler;
      const exit = await terminate(gate, 30_000);
      const inputs = await readInputs(admin, names.topics.input);
      const t = tally(inputs, await readOutcomes(admin, codec, names.topics));
      const mb = (peak / 2 ** 20).toFixed(0);
      console.log(`memory-defaults: ${inputs.length} inputs (${WITH_LANDMARKS} with landmarks, ${WITHOUT_LANDMARKS} without, ${hostile.length} hostile) on ${PARTITIONS} partitions worked off in ${(workMs / 1000).toFixed(1)} s; peak RSS ${mb} MiB (bound ${RSS_BOUND_MB}); ${t.missing.length} lost; exit ${exit}`);
      expect(t.missing).toEqual([]);
      expect(exit).toBe(0);
      expect(peak).toBeLessThan(RSS_BOUND_MB * 2 ** 20);
      await recordSummary({
        client: kind, test: 'memory-defaults', kinds: 3, faults: hostile.length, faultsNote: `hostile inputs (every kind × ${HOSTILE_COPIES}) in a backlog of ${inputs.length}, default settings`,
        inputs: inputs.length, lost: t.missing.length, duplicates: t.duplicates.size,
        notes: `peak RSS ${mb} MiB < ${RSS_BOUND_MB} MiB; ${WITHOUT_LANDMARKS} through the detector; ${PARTITIONS} partitions; worked off in ${(workMs / 1000).toFixed(0)} s`,
      });
    } finally {
      await admin.close();
    }
  }, 420_000);
});

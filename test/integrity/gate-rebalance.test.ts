/**
 * Two gates in one consumer group on the real broker: they share the partitions, and when one
 * stops mid-stream the other takes its partitions over without losing an input. Duplicates may
 * only come from chunks in flight at the stop.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { startGate, type GateApp } from '../../src/plugin/app/gate-app.js';
import { subscribeTo } from '../../src/plugin/core/diagnostic.js';
import { gateChannels } from '../../src/plugin/gate/gate.js';
import {
  KAFKA_CLIENTS, cropFactory, drained, gateConfig, produce, readInputs, readOutcomes, sumCommitted, tally, testClient, testLogger, uniqueNames, waitFor,
} from '../helpers/gate-harness.js';
import { inProcessGateSuite } from './support.js';

const COUNT = 800;
const BAD = 16;
const PARTITIONS = 4;
const IN_FLIGHT = 8;
const MAX_MESSAGE_BYTES = 64_000;

const suite = inProcessGateSuite();

interface CommitLog { partition: number; offset: bigint; afterStop: boolean }

function watch(app: GateApp, log: CommitLog[], stopped: () => boolean): void {
  onTestFinished(subscribeTo(gateChannels.commit, app.gate, (e) => void log.push({ partition: e.partition, offset: BigInt(e.offset), afterStop: stopped() })));
}

describe.each(KAFKA_CLIENTS)('gate rebalance (real broker) (%s)', (kind) => {
  it('startGate should let a second member take over a stopped member\'s partitions without losing inputs', async () => {
    const names = uniqueNames('rebalance', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, suite.fx, MAX_MESSAGE_BYTES);
    const apps: GateApp[] = [];
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      const msgs = await factory.stream(names.run, COUNT, BAD);
      const cfg = gateConfig(names, suite.fx, {
        'kafka.maxMessageBytes': MAX_MESSAGE_BYTES, 'gate.inFlightPerPartition': IN_FLIGHT, 'gate.partitionsConcurrently': PARTITIONS,
      });
      // Both join before any data exists, so the only rebalance with work in flight is the stop.
      const a = await startGate(cfg, testClient(`${names.run}-a`, names.client), testLogger());
      apps.push(a);
      const b = await startGate(cfg, testClient(`${names.run}-b`, names.client), testLogger());
      apps.push(b);
      let stopped = false;
      const aLog: CommitLog[] = [], bLog: CommitLog[] = [];
      watch(a, aLog, () => stopped);
      watch(b, bLog, () => stopped);

      const t0 = performance.now();
      // A steady stream, so the stop lands in the middle of it.
      const producing = produce(client, names.topics.input, msgs, { partitions: PARTITIONS, batch: 20, pauseMs: 100 });
      // Well into the stream: each member has published a fair share before one of them stops.
      await waitFor('both gates to publish', () => a.gate.counts.published >= COUNT / 8 && b.gate.counts.published >= COUNT / 8, 60_000, 20);
      const committedAtStop = await sumCommitted(admin, names.groupId, names.topics.input);
      const s0 = performance.now();
      // From here on, B's commits on A's partitions are the takeover (it may start during A's drain).
      stopped = true;
      const aClean = await a.shutdown(10_000);
      const stopMs = performance.now() - s0;
      await producing;
      const takeoverMs = await waitFor('the remaining gate to commit every input offset', () => drained(admin, names.groupId, names.topics.input), 80_000);
      const totalMs = performance.now() - t0;
      expect(await b.shutdown(10_000)).toBe(true);

      const inputs = await readInputs(admin, names.topics.input);
      const t = tally(inputs, await readOutcomes(admin, codec, names.topics));
      const aParts = new Set(aLog.map((c) => c.partition)), bBefore = new Set(bLog.filter((c) => !c.afterStop).map((c) => c.partition));
      const tookOver = new Set(bLog.filter((c) => c.afterStop && aParts.has(c.partition)).map((c) => c.partition));
      const dupTotal = [...t.duplicates.values()].reduce((s, n) => s + n - 1, 0);
      console.log(`rebalance: ${inputs.length} inputs on ${PARTITIONS} partitions; A had [${[...aParts]}], B had [${[...bBefore]}]; A stopped after ${committedAtStop} committed, in ${stopMs.toFixed(0)} ms (clean ${aClean}); ` +
        `B took over [${[...tookOver]}] and drained ${takeoverMs.toFixed(0)} ms after the stream ended, ${totalMs.toFixed(0)} ms in all; A ${JSON.stringify(a.gate.counts)}, B ${JSON.stringify(b.gate.counts)}; duplicates ${dupTotal}`);

      expect(aClean).toBe(true);
      expect(aParts.size).toBeGreaterThan(0);
      expect(bBefore.size).toBeGreaterThan(0);
      expect(committedAtStop).toBeLessThan(COUNT);
      expect(tookOver.size).toBeGreaterThan(0);
      expect([...tookOver].sort()).toEqual([...aParts].sort());

      expect(inputs).toHaveLength(COUNT);
      expect(t.missing.map((i) => i.source)).toEqual([]);
      expect(t.strays).toEqual([]);
      // Duplicates only from the chunk a partition had in flight at the stop: at most one chunk per partition.
      expect(dupTotal).toBeLessThanOrEqual(IN_FLIGHT * PARTITIONS);
      for (let p = 0; p < PARTITIONS; p++) {
        const offsets = [...t.duplicates.keys()].filter((s) => s.startsWith(`${names.topics.input}/${p}/`)).map((s) => Number(s.split('/').pop()));
        if (offsets.length) expect(Math.max(...offsets) - Math.min(...offsets), `duplicates of partition ${p}: ${offsets}`).toBeLessThan(IN_FLIGHT);
      }

      const [committed, end] = await Promise.all([admin.committedOffsets(names.groupId, names.topics.input), admin.endOffsets(names.topics.input)]);
      expect(Object.fromEntries(committed)).toEqual(Object.fromEntries(end));
    } finally {
      await Promise.all(apps.map((app) => app.shutdown(5000)));
      await admin.close();
    }
  }, 90_000);
});

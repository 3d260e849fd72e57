/**
 * The gate's delivery guarantee on the real broker: every input offset ends as exactly one final
 * FaceQuality event or one DeadLetter (with the right reason), and the group commits it all.
 * Needs a broker (deploy/kafka/broker.sh start), ../shared and models/ci.sh's fixtures.
 */
import { describe, expect, it } from 'vitest';
import { startGate } from '../../src/plugin/app/gate-app.js';
import { EXPECTED_REASON } from '../helpers/crops.js';
import {
  KAFKA_CLIENTS, cropFactory, drained, gateConfig, produce, readInputs, readOutcomes, tally, testClient, testLogger, uniqueNames, waitFor,
} from '../helpers/gate-harness.js';
import { inProcessGateSuite } from './support.js';

const COUNT = 1000;
const BAD = 50;
const PARTITIONS = 3;
const MAX_MESSAGE_BYTES = 64_000;

const suite = inProcessGateSuite();

describe.each(KAFKA_CLIENTS)('gate delivery (real broker) (%s)', (kind) => {
  it('startGate should give every input offset exactly one final event or dead letter and commit to the end', async () => {
    const names = uniqueNames('delivery', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, suite.fx, MAX_MESSAGE_BYTES);
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      const msgs = await factory.stream(names.run, COUNT, BAD);
      await produce(client, names.topics.input, msgs, { partitions: PARTITIONS });

      const cfg = gateConfig(names, suite.fx, { 'kafka.maxMessageBytes': MAX_MESSAGE_BYTES, 'gate.inFlightPerPartition': 32 });
      const t0 = performance.now();
      const app = await startGate(cfg, client, testLogger());
      const startMs = performance.now() - t0;
      let drainMs: number;
      let clean: boolean;
      try {
        drainMs = await waitFor('the gate to commit every input offset', () => drained(admin, names.groupId, names.topics.input), 80_000);
      } finally {
        clean = await app.shutdown(10_000);
      }
      expect(clean).toBe(true);
      const counts = { ...app.gate.counts };

      const inputs = await readInputs(admin, names.topics.input);
      const outcomes = await readOutcomes(admin, codec, names.topics);
      const t = tally(inputs, outcomes);
      console.log(`delivery: ${inputs.length} inputs on ${PARTITIONS} partitions, gate start ${startMs.toFixed(0)} ms, drained in ${drainMs.toFixed(0)} ms (${((inputs.length / drainMs) * 1000).toFixed(0)} msg/s); ` +
        `${outcomes.filter((o) => o.type === 'event').length} events, ${outcomes.filter((o) => o.type === 'dlq').length} dead letters; gate counts ${JSON.stringify(counts)}`);

      expect(inputs).toHaveLength(COUNT);
      expect(new Set(inputs.map((i) => i.partition)).size).toBe(PARTITIONS);
      expect(t.missing.map((i) => i.source)).toEqual([]);
      expect([...t.duplicates]).toEqual([]);
      expect(t.strays).toEqual([]);

      const reasons = new Map<string, Map<string, number>>();
      for (const input of inputs) {
        const [o] = t.bySource.get(input.source)!;
        // The lineage header and the body agree on which input this is.
        expect(o.headerSource).toBe(input.source);
        if (input.kind === 'good') {
          expect(o.type, `${input.source} is a good crop`).toBe('event');
          if (o.type !== 'event') continue;
          expect(o.event.final).toBe(true);
          expect(o.event.escalation).toBe('NONE');
          expect(o.event.model.id).toBe('tiny-regressor');
          expect(o.event.landmarkSource).toBe('message');
          expect(Number.isFinite(o.event.score)).toBe(true);
          expect(o.key).toBe(input.key);
          expect(o.event.cameraId).toBe(input.key);
        } else {
          expect(o.type, `${input.source} is a ${input.kind} input`).toBe('dlq');
          if (o.type !== 'dlq') continue;
          const byCode = reasons.get(input.kind) ?? new Map<string, number>();
          byCode.set(o.dead.reasonCode, (byCode.get(o.dead.reasonCode) ?? 0) + 1);
          reasons.set(input.kind, byCode);
          expect(o.dead.canRetry).toBe(false);
          // The dead letter keeps the original message, so it can be inspected or replayed.
          expect(o.dead.originalKey?.toString()).toBe(input.key);
        }
      }
      const seen = Object.fromEntries([...reasons].map(([kind, byCode]) => [kind, Object.fromEntries(byCode)]));
      const expected = Object.fromEntries([...reasons].map(([kind, byCode]) => [kind, { [EXPECTED_REASON[kind as keyof typeof EXPECTED_REASON]]: [...byCode.values()].reduce((a, b) => a + b, 0) }]));
      console.log(`delivery: DLQ reasons per bad kind ${JSON.stringify(seen)}`);
      expect(seen).toEqual(expected);
      expect(Object.keys(seen).sort()).toEqual(Object.keys(EXPECTED_REASON).sort());

      const [committed, end] = await Promise.all([admin.committedOffsets(names.groupId, names.topics.input), admin.endOffsets(names.topics.input)]);
      expect(Object.fromEntries(committed)).toEqual(Object.fromEntries(end));
    } finally {
      await admin.close();
    }
  }, 90_000);
});

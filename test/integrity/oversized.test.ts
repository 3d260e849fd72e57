/**
 * One input near the broker's size limit must not stall its partition (issue 19): its dead letter
 * cannot carry the original bytes (the letter would be over the broker's limit), so it goes out
 * without them, with the original's size and sha256, and the inputs after it get their outcomes.
 * Before the fix the gate retried that dead letter for good and reported a clean stop.
 * Needs a broker (deploy/kafka/broker.sh start: message.max.bytes 10485760), ../shared and the fixtures.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startGate } from '../../src/plugin/app/gate-app.js';
import {
  KAFKA_CLIENTS, cropFactory, drained, gateConfig, produce, readInputs, readOutcomes, tally, testClient, testLogger, uniqueNames, waitFor,
} from '../helpers/gate-harness.js';
import { inProcessGateSuite, recordSummary } from './support.js';

// Under the local broker's message.max.bytes (10485760) with the record's framing, over the gate's
// kafka.maxMessageBytes (default 8 MB): the size the operator sent.
const BIG = 10_485_600;

const suite = inProcessGateSuite();

describe.each(KAFKA_CLIENTS)('oversized input (real broker) (%s)', (kind) => {
  it('startGate should dead-letter an input near the broker limit without its bytes and give every later input its outcome', async () => {
    const names = uniqueNames('oversized', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, suite.fx, 8_000_000);
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: 1 }]);
      const good = await factory.stream(names.run, 20, 0);
      const big = Buffer.alloc(BIG, 7);
      await produce(client, names.topics.input, [...good.slice(0, 5), { key: 'cam-big', value: big, headers: {}, kind: 'oversized', cameraId: 'cam-big', frameId: 'big' }, ...good.slice(5)], { partitions: 1, batch: 1 });

      // Defaults for every size limit: the broker's, the gate's kafka.maxMessageBytes.
      const app = await startGate(gateConfig(names, suite.fx, { 'gate.inFlightPerPartition': 4 }), client, testLogger());
      let clean: boolean;
      let drainMs: number;
      try {
        // Generous: the 10 MB record is fetched, decoded as too large and its letter published in
        // well under a second here; 60 s leaves room for a loaded 2-core host.
        drainMs = await waitFor('every input to be committed', () => drained(admin, names.groupId, names.topics.input), 60_000);
      } finally {
        clean = await app.shutdown(10_000);
      }
      expect(clean).toBe(true);
      expect(app.gate.counts.unfinished).toBe(0);

      const inputs = await readInputs(admin, names.topics.input);
      const t = tally(inputs, await readOutcomes(admin, codec, names.topics));
      expect(t.missing).toEqual([]);
      expect([...t.duplicates]).toEqual([]);
      const [letter] = t.bySource.get(inputs[5].source)!;
      expect(letter.type).toBe('dlq');
      if (letter.type !== 'dlq') return;
      expect(letter.dead.reasonCode).toBe('INPUT_TOO_LARGE');
      expect(letter.dead.originalOmitted).toBe(true);
      expect(letter.dead.originalValue).toBeNull();
      expect(Number(letter.dead.originalSize)).toBe(BIG);
      expect(letter.dead.originalSha256).toBe(createHash('sha256').update(big).digest('hex'));
      expect(letter.dead.originalKey?.toString()).toBe('cam-big');
      expect(inputs.filter((i, n) => n !== 5).every((i) => t.bySource.get(i.source)![0].type === 'event')).toBe(true);
      console.log(`oversized: ${inputs.length} inputs (one of ${BIG} bytes) drained in ${drainMs.toFixed(0)} ms; its dead letter without the original, size and sha256 kept`);
      await recordSummary({
        client: kind, test: 'oversized', kinds: 1, faults: 1, faultsNote: `input of ${BIG} bytes (under the broker's limit, over kafka.maxMessageBytes)`,
        inputs: inputs.length, lost: t.missing.length, duplicates: t.duplicates.size,
        notes: `dead letter without the original (size + sha256 kept); partition drained in ${(drainMs / 1000).toFixed(1)} s; clean stop`,
      });
    } finally {
      await admin.close();
    }
  }, 120_000);
});

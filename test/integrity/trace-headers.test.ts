/**
 * W3C trace headers from cameras are checked before they are propagated (issue 19): a valid
 * traceparent (and its tracestate) reaches the outputs; garbage, or headers of 100-200 KB, are
 * dropped instead of being copied onto every output and dead letter.
 * Needs a broker (deploy/kafka/broker.sh start), ../shared and the fixtures.
 */
import { describe, expect, it } from 'vitest';
import { startGate } from '../../src/plugin/app/gate-app.js';
import { KAFKA_CLIENTS, cropFactory, drained, gateConfig, produce, testClient, testLogger, uniqueNames, waitFor } from '../helpers/gate-harness.js';
import { inProcessGateSuite } from './support.js';

const VALID = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const CASES: Record<string, { traceparent: string; tracestate?: string; expect: Record<string, string | undefined> }> = {
  valid: { traceparent: VALID, tracestate: 'rojo=00f067aa0ba902b7', expect: { traceparent: VALID, tracestate: 'rojo=00f067aa0ba902b7' } },
  garbage: { traceparent: '00-zz-not-a-trace', tracestate: 'a=1', expect: { traceparent: undefined, tracestate: undefined } },
  huge: { traceparent: `${VALID}${'x'.repeat(150_000)}`, expect: { traceparent: undefined, tracestate: undefined } },
  'huge-tracestate': { traceparent: VALID, tracestate: `a=${'y'.repeat(200_000)}`, expect: { traceparent: VALID, tracestate: undefined } },
};

const suite = inProcessGateSuite();

describe.each(KAFKA_CLIENTS)('trace headers (real broker) (%s)', (kind) => {
  it('startGate should pass on valid W3C trace headers and drop malformed or oversized ones', async () => {
    const names = uniqueNames('trace-headers', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory } = await cropFactory(names, suite.fx, 1_000_000);
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: 1 }]);
      const good = await factory.stream(names.run, Object.keys(CASES).length, 0);
      const msgs = Object.entries(CASES).map(([name, c], i) => ({ ...good[i], headers: { ...good[i].headers, case: name, traceparent: c.traceparent, ...(c.tracestate ? { tracestate: c.tracestate } : {}) } }));
      await produce(client, names.topics.input, msgs, { partitions: 1, batch: 1 });
      const app = await startGate(gateConfig(names, suite.fx, { 'kafka.maxMessageBytes': 1_000_000 }), client, testLogger());
      try {
        await waitFor('every input to be committed', () => drained(admin, names.groupId, names.topics.input), 60_000);
      } finally {
        await app.shutdown(10_000);
      }
      const out = await admin.readAll(names.topics.output, { timeoutMs: 30_000 });
      const inputs = await admin.readAll(names.topics.input, { timeoutMs: 30_000 });
      const caseOf = new Map(inputs.map((r) => [`${r.topic}/${r.partition}/${r.offset}`, r.headers.case!.toString()]));
      const seen = Object.fromEntries(out.map((r) => [caseOf.get(r.headers['diffiqa-source']!.toString())!, {
        traceparent: r.headers.traceparent?.toString(), tracestate: r.headers.tracestate?.toString(),
      }]));
      expect(seen).toEqual(Object.fromEntries(Object.entries(CASES).map(([name, c]) => [name, c.expect])));
    } finally {
      await admin.close();
    }
  }, 90_000);
});

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { GateError } from '../../../src/plugin/core/errors.js';
import { createKafkajsClient, type KafkaLogger } from '../../../src/plugin/kafka/kafkajs.js';
import { kafkaContract } from './contract.js';

// CI starts a broker (deploy/kafka/broker.sh start); without one these tests fail, never skip.
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

async function assertBroker(): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'probe', connectionTimeout: 2000, retry: { retries: 1 }, logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (err) {
    throw new Error(`No Kafka broker reachable at ${brokers.join(',')} (${(err as Error).message}): start one with 'deploy/kafka/broker.sh start' or set KAFKA_BROKERS`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Collects log lines, so the tests can check that nothing reaches the console. */
function memoryLogger(): KafkaLogger & { lines: { level: string; msg: string; fields: object }[] } {
  const lines: { level: string; msg: string; fields: object }[] = [];
  const at = (level: string) => (fields: object, msg: string) => void lines.push({ level, msg, fields });
  return { level: 'info', lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

beforeAll(assertBroker, 20_000);

kafkaContract('kafkajs client', async () => ({
  client: createKafkajsClient({ brokers, clientId: 'contract', logger: memoryLogger(), maxWaitTimeMs: 250 }),
  sessionTimeoutMs: 6000,
  settleMs: 1200,
  waitMs: 20_000,
  close: async () => {},
}));

describe('createKafkajsClient', () => {
  const topic = `kafkajs-extra-${randomUUID().slice(0, 8)}`;
  const client = createKafkajsClient({ brokers, clientId: 'extra', maxWaitTimeMs: 250 });
  const admin = client.admin();
  beforeAll(() => admin.createTopics([{ topic, partitions: 3 }]));
  afterAll(() => admin.close());

  it('readAll should see an open transaction only after its commit, and aborted records only read_uncommitted', async () => {
    const raw = new Kafka({ brokers, clientId: 'raw-tx', logLevel: logLevel.NOTHING });
    const producer = raw.producer({ transactionalId: `raw-${randomUUID()}`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const open = await producer.transaction();
      await open.send({ topic, messages: [{ partition: 0, value: 'committed-later' }] });
      expect((await admin.readAll(topic, { readCommitted: true, timeoutMs: 10_000 })).map((r) => r.value?.toString())).toEqual([]);
      await open.commit();
      expect((await admin.readAll(topic, { readCommitted: true })).map((r) => r.value?.toString())).toEqual(['committed-later']);

      const aborted = await producer.transaction();
      await aborted.send({ topic, messages: [{ partition: 0, value: 'aborted' }] });
      await aborted.abort();
      expect((await admin.readAll(topic, { readCommitted: true })).map((r) => r.value?.toString())).toEqual(['committed-later']);
      expect((await admin.readAll(topic, { readCommitted: false })).map((r) => r.value?.toString())).toEqual(['committed-later', 'aborted']);
    } finally {
      await producer.disconnect();
    }
  });

  it('send should fail with KAFKA_NETWORK when no broker answers', async () => {
    const dead = createKafkajsClient({ brokers: ['127.0.0.1:1'], clientId: 'dead', connectionTimeoutMs: 200 });
    const producer = dead.producer();
    const err = await producer.send([{ topic, key: null, value: Buffer.from('x') }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GateError);
    expect((err as GateError).code).toBe('KAFKA_NETWORK');
    expect((err as GateError).canRetry).toBe(true);
    await producer.disconnect();
  });

  it('consumer should route kafkajs logs to the given logger, not the console', async () => {
    const spies = (['log', 'info', 'warn', 'error'] as const).map((m) => vi.spyOn(console, m));
    const logger = memoryLogger();
    const logged = createKafkajsClient({ brokers, clientId: 'logs', logger, maxWaitTimeMs: 250 });
    const consumer = logged.consumer({ groupId: `logs-${randomUUID()}`, sessionTimeoutMs: 6000 });
    try {
      await consumer.subscribe([topic]);
      await consumer.run(async () => {}, { concurrency: 1 });
      await consumer.disconnect();
      expect(logger.lines.some((l) => l.level === 'info' && /joined the group/.test(l.msg))).toBe(true);
      expect(logger.lines.every((l) => (l.fields as { component?: string }).component === 'kafkajs')).toBe(true);
      for (const s of spies) expect(s).not.toHaveBeenCalled();
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });
});

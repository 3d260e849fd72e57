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
      const values = async (readCommitted: boolean) => (await admin.readAll(topic, { readCommitted })).map((r) => r.value?.toString());
      // Commit markers are written just after commit() returns.
      await vi.waitFor(async () => expect(await values(true)).toEqual(['committed-later']), { timeout: 10_000, interval: 50 });

      const aborted = await producer.transaction();
      await aborted.send({ topic, messages: [{ partition: 0, value: 'aborted' }] });
      await aborted.abort();
      await vi.waitFor(async () => expect(await values(false)).toEqual(['committed-later', 'aborted']), { timeout: 10_000, interval: 50 });
      expect(await values(true)).toEqual(['committed-later']);
    } finally {
      await producer.disconnect();
    }
  });

  it('sendInTransaction should abort records that already reached the broker when the transaction fails', async () => {
    const t = `${topic}-abort`;
    await admin.createTopics([{ topic: t, partitions: 3 }]);
    const producer = client.producer({ transactionalIdPrefix: `abort-${randomUUID()}-` });
    try {
      const err = await producer.sendInTransaction!([
        { topic: t, partition: 0, key: null, value: Buffer.from('small') },
        { topic: t, partition: 1, key: null, value: Buffer.alloc(11 * 1024 * 1024) },
      ], { groupId: `abort-${randomUUID()}`, topic, partition: 0, offset: '0' }).catch((e: unknown) => e);
      expect((err as GateError).code).toBe('KAFKA_TOO_LARGE');
      expect((err as GateError).canRetry).toBe(false); // MESSAGE_TOO_LARGE will not pass on a retry
      // The small record was written, then aborted: a read_uncommitted reader sees it.
      await vi.waitFor(async () => expect((await admin.readAll(t, { readCommitted: false })).map((r) => r.value?.toString())).toEqual(['small']), { timeout: 10_000, interval: 50 });
      expect(await admin.readAll(t, { readCommitted: true })).toEqual([]);
    } finally {
      await producer.disconnect();
    }
  });

  it('sendInTransaction should fence the older producer of the same input partition', async () => {
    const prefix = `fence-${randomUUID()}-`;
    const offsets = { groupId: `fence-${randomUUID()}`, topic, partition: 2, offset: '0' };
    const oldOwner = client.producer({ transactionalIdPrefix: prefix });
    const newOwner = client.producer({ transactionalIdPrefix: prefix });
    try {
      await oldOwner.sendInTransaction!([{ topic, partition: 1, key: null, value: Buffer.from('old-1') }], offsets);
      await newOwner.sendInTransaction!([{ topic, partition: 1, key: null, value: Buffer.from('new-1') }], { ...offsets, offset: '1' });
      const err = await oldOwner.sendInTransaction!([{ topic, partition: 1, key: null, value: Buffer.from('old-2') }], { ...offsets, offset: '2' }).catch((e: unknown) => e);
      expect((err as GateError).code).toBe('KAFKA_FENCED');
      await vi.waitFor(async () => expect((await admin.committedOffsets(offsets.groupId, topic)).get(2)).toBe('2'), { timeout: 10_000, interval: 50 });
      const values = (await admin.readAll(topic)).filter((r) => r.partition === 1).map((r) => r.value?.toString());
      expect(values).toEqual(['old-1', 'new-1']);
    } finally {
      await oldOwner.disconnect();
      await newOwner.disconnect();
    }
  });

  it('sendInTransaction should never initialise a fenced partition\'s transactional id again while confirm says the partition is gone', async () => {
    const prefix = `zombie-${randomUUID()}-`;
    const offsets = { groupId: `zombie-${randomUUID()}`, topic, partition: 1, offset: '0' };
    const zombie = client.producer({ transactionalIdPrefix: prefix });
    const owner = client.producer({ transactionalIdPrefix: prefix });
    let asked = 0;
    const gone = async () => { asked++; return false; };
    try {
      await zombie.sendInTransaction!([{ topic, partition: 0, key: null, value: Buffer.from('zombie-1') }], offsets);
      await owner.sendInTransaction!([{ topic, partition: 0, key: null, value: Buffer.from('owner-1') }], { ...offsets, offset: '1' });
      // The zombie's producer is fenced; its retries ask first and must not fence the owner by initialising the id.
      for (let i = 0; i < 2; i++) {
        const err = await zombie.sendInTransaction!([{ topic, partition: 0, key: null, value: Buffer.from('zombie-2') }], { ...offsets, offset: '2', confirm: gone }).catch((e: unknown) => e);
        expect((err as GateError).code).toBe('KAFKA_FENCED');
        expect((err as GateError).canRetry).toBe(false);
      }
      expect(asked).toBe(2);
      await owner.sendInTransaction!([{ topic, partition: 0, key: null, value: Buffer.from('owner-2') }], { ...offsets, offset: '2' });
      await vi.waitFor(async () => expect((await admin.committedOffsets(offsets.groupId, topic)).get(1)).toBe('3'), { timeout: 10_000, interval: 50 });
      expect((await admin.readAll(topic)).filter((r) => r.partition === 0 && /^(zombie|owner)-/.test(r.value!.toString())).map((r) => r.value!.toString()))
        .toEqual(['zombie-1', 'owner-1', 'owner-2']);
    } finally {
      await zombie.disconnect();
      await owner.disconnect();
    }
  });

  it('send should fail a too-large record as not retriable and keep working afterwards', async () => {
    const t = `${topic}-big`;
    await admin.createTopics([{ topic: t, partitions: 1 }]);
    const producer = client.producer();
    try {
      const err = (await producer.send([{ topic: t, key: null, value: Buffer.alloc(11 * 1024 * 1024) }]).catch((e: unknown) => e)) as GateError;
      expect([err.code, err.canRetry]).toEqual(['KAFKA_TOO_LARGE', false]);
      await producer.send([{ topic: t, key: null, value: Buffer.from('next') }]);
      expect((await admin.readAll(t)).map((r) => r.value?.toString())).toEqual(['next']);
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

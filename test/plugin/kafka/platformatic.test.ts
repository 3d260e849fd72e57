import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Admin } from '@platformatic/kafka';
import { GateError } from '../../../src/plugin/core/errors.js';
import { createPlatformaticClient } from '../../../src/plugin/kafka/platformatic.js';
import { kafkaContract } from './contract.js';

// CI starts a broker (deploy/kafka/broker.sh start); without one these tests fail, never skip.
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

async function assertBroker(): Promise<void> {
  const admin = new Admin({ clientId: 'probe', bootstrapBrokers: brokers, connectTimeout: 2000, retries: 1 });
  try {
    await admin.listTopics();
  } catch (err) {
    throw new Error(`No Kafka broker reachable at ${brokers.join(',')} (${(err as Error).message}): start one with 'deploy/kafka/broker.sh start' or set KAFKA_BROKERS`);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

beforeAll(assertBroker, 20_000);

kafkaContract('platformatic client', async () => ({
  client: createPlatformaticClient({ brokers, clientId: 'contract-plt', maxWaitTimeMs: 250 }),
  sessionTimeoutMs: 6000,
  settleMs: 1200,
  waitMs: 20_000,
  close: async () => {},
}));

describe('createPlatformaticClient', () => {
  const topic = `plt-extra-${randomUUID().slice(0, 8)}`;
  const client = createPlatformaticClient({ brokers, clientId: 'extra-plt', maxWaitTimeMs: 250 });
  const admin = client.admin();
  beforeAll(() => admin.createTopics([{ topic, partitions: 3 }]));
  afterAll(() => admin.close());

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

  it('readAll should leave out the records of an aborted transaction unless read_uncommitted', async () => {
    const t = `${topic}-abort`;
    await admin.createTopics([{ topic: t, partitions: 3 }]);
    const producer = client.producer({ transactionalIdPrefix: `abort-${randomUUID()}-` });
    try {
      const err = await producer.sendInTransaction!([
        { topic: t, partition: 0, key: null, value: Buffer.from('small') },
        { topic: t, partition: 1, key: null, value: Buffer.alloc(11 * 1024 * 1024) },
      ], { groupId: `abort-${randomUUID()}`, topic, partition: 0, offset: '0' }).catch((e: unknown) => e);
      expect([(err as GateError).code, (err as GateError).canRetry]).toEqual(['KAFKA_TOO_LARGE', false]);
      await vi.waitFor(async () => expect((await admin.readAll(t, { readCommitted: false })).map((r) => r.value?.toString())).toEqual(['small']), { timeout: 10_000, interval: 50 });
      expect(await admin.readAll(t, { readCommitted: true })).toEqual([]);
    } finally {
      await producer.disconnect();
    }
  });

  it('send should fail with KAFKA_NETWORK when no broker answers', async () => {
    const dead = createPlatformaticClient({ brokers: ['127.0.0.1:1'], clientId: 'dead', connectionTimeoutMs: 200 });
    const producer = dead.producer();
    const err = await producer.send([{ topic: 'nowhere', key: null, value: Buffer.from('x') }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GateError);
    expect((err as GateError).code).toBe('KAFKA_NETWORK');
    expect((err as GateError).canRetry).toBe(true);
    await producer.disconnect();
  });
});

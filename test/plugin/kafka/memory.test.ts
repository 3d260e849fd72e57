import { describe, expect, it } from 'vitest';
import { GateError } from '../../../src/plugin/core/errors.js';
import { createMemoryClient } from '../../../src/plugin/kafka/memory.js';
import type { PartitionBatch } from '../../../src/plugin/kafka/port.js';
import { kafkaContract } from './contract.js';

kafkaContract('memory client', async () => ({
  client: createMemoryClient(),
  sessionTimeoutMs: 6000,
  settleMs: 50,
  waitMs: 2000,
  close: async () => {},
}));

const value = (s: string) => Buffer.from(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await cond()); i++) await sleep(10);
  if (!(await cond())) throw new Error('condition not met within 2 s');
}

describe('createMemoryClient', () => {
  it('failNext should fail the next send without appending anything, then let sends through', async () => {
    const kafka = createMemoryClient();
    const producer = kafka.producer();
    kafka.failNext('send');
    const err = await producer.send([{ topic: 't', key: null, value: value('lost') }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GateError);
    expect([(err as GateError).code, (err as GateError).canRetry]).toEqual(['KAFKA_PRODUCE', true]);
    await producer.send([{ topic: 't', key: null, value: value('kept') }]);
    expect((await kafka.admin().readAll('t')).map((r) => r.value!.toString())).toEqual(['kept']);
  });

  it('failNext should fail a commit, keep the old offset and let the redelivered batch commit', async () => {
    const kafka = createMemoryClient({ retryBackoffMs: 5 });
    await kafka.producer().send([0, 1, 2].map((i) => ({ topic: 't', partition: 0, key: null, value: value(`v${i}`) })));
    kafka.failNext('commit');
    const errors: string[] = [];
    let deliveries = 0;
    const consumer = kafka.consumer({ groupId: 'g' });
    await consumer.subscribe(['t'], { fromBeginning: true });
    await consumer.run(async (b) => {
      deliveries++;
      await b.commit(b.records[b.records.length - 1].offset).catch((e: GateError) => {
        errors.push(e.code);
        throw e;
      });
    }, { concurrency: 1 });
    await until(async () => (await kafka.admin().committedOffsets('g', 't')).get(0) === '3');
    await consumer.stop();
    expect(errors).toEqual(['KAFKA_NETWORK']);
    expect(deliveries).toBe(2);
  });

  it("failNext('fence') should refuse a commit (false) and make the batch stale while the member keeps the partition and its position", async () => {
    const kafka = createMemoryClient({ retryBackoffMs: 5 });
    await kafka.producer().send([0, 1, 2, 3].map((i) => ({ topic: 't', partition: 0, key: null, value: value(`v${i}`) })));
    kafka.failNext('fence');
    const seen: string[][] = [];
    const states: boolean[] = [];
    const consumer = kafka.consumer({ groupId: 'g' });
    await consumer.subscribe(['t'], { fromBeginning: true });
    await consumer.run(async (b) => {
      seen.push(b.records.map((r) => r.offset));
      if (seen.length > 1) return;
      b.advance('1');                                     // handed in up to offset 1
      const ok = await b.commit('0');
      states.push(ok, b.isActive(), consumer.assignment().some((tp) => tp.partition === 0));
    }, { concurrency: 1 });
    await until(() => seen.length >= 2);
    await consumer.stop();
    expect(states).toEqual([false, false, true]);
    expect(kafka.faultsLeft('fence')).toBe(0);
    // The next fetch starts after what was handed in, not at the committed offset: the position stayed.
    expect(seen[1][0]).toBe('2');
    expect((await kafka.admin().committedOffsets('g', 't')).get(0)).toBeUndefined();
  });

  it('failNext should fail a transaction atomically', async () => {
    const kafka = createMemoryClient();
    const producer = kafka.producer({ transactionalIdPrefix: 'p-' });
    kafka.failNext('transaction');
    const offsets = { groupId: 'g', topic: 'in', partition: 0, offset: '4' };
    await expect(producer.sendInTransaction!([{ topic: 'out', key: null, value: value('x') }], offsets)).rejects.toBeInstanceOf(GateError);
    expect(await kafka.admin().readAll('out')).toEqual([]);
    expect((await kafka.admin().committedOffsets('g', 'in')).size).toBe(0);
    await producer.sendInTransaction!([{ topic: 'out', key: null, value: value('x') }], offsets);
    expect((await kafka.admin().committedOffsets('g', 'in')).get(0)).toBe('5');
  });

  it('send should create unknown topics with defaultPartitions and place a key the same way in every client', async () => {
    const place = async () => {
      const kafka = createMemoryClient({ defaultPartitions: 5 });
      await kafka.producer().send(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => ({ topic: 'auto', key: k, value: value(k) })));
      expect((await kafka.admin().endOffsets('auto')).size).toBe(5);
      return (await kafka.admin().readAll('auto')).map((r) => `${r.key!.toString()}@${r.partition}`).sort();
    };
    const first = await place();
    expect(await place()).toEqual(first);
    expect(new Set(first.map((s) => s.split('@')[1])).size).toBeGreaterThan(1);
  });

  it('send should reject a missing partition and an oversized record as not retriable, appending nothing', async () => {
    const kafka = createMemoryClient({ maxMessageBytes: 100 });
    const admin = kafka.admin();
    await admin.createTopics([{ topic: 't', partitions: 2 }]);
    const producer = kafka.producer();
    for (const [bad, code] of [[{ partition: 2, value: value('x') }, 'KAFKA_PRODUCE'], [{ partition: 0, value: Buffer.alloc(101) }, 'KAFKA_TOO_LARGE']] as const) {
      const err = (await producer.send([{ topic: 't', key: null, partition: 1, value: value('ok') }, { topic: 't', key: null, ...bad }]).catch((e: unknown) => e)) as GateError;
      expect([err.code, err.canRetry]).toEqual([code, false]);
    }
    expect(await admin.readAll('t')).toEqual([]);
    await expect(admin.createTopics([{ topic: 'u', partitions: 0 }])).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('commit should resolve false once the handler returned and the partition moved away', async () => {
    const kafka = createMemoryClient();
    await kafka.producer().send([0, 1, 2].map((p) => ({ topic: 't', partition: p, key: null, value: value(`v${p}`) })));
    const kept: PartitionBatch[] = [];
    const a = kafka.consumer({ groupId: 'g' });
    await a.subscribe(['t'], { fromBeginning: true });
    await a.run(async (b) => {
      kept.push(b);
      b.advance(b.records[0].offset);
    }, { concurrency: 3 });
    await until(() => kept.length === 3);
    const b = kafka.consumer({ groupId: 'g' });
    await b.subscribe(['t']); // from the end: it must not consume, only take partitions
    await b.run(async () => {}, { concurrency: 1 });
    const moved = new Set(b.assignment().map((tp) => tp.partition));
    expect(moved.size).toBeGreaterThan(0);
    const results = await Promise.all(kept.map(async (batch) => [batch.partition, await batch.commit(batch.records[0].offset)] as const));
    for (const [partition, ok] of results) expect(ok).toBe(!moved.has(partition));
    const committed = await kafka.admin().committedOffsets('g', 't');
    expect([...committed.keys()].sort()).toEqual([0, 1, 2].filter((p) => !moved.has(p)));
    await a.stop();
    await b.stop();
  });

  it('stop should be idempotent and run after stop should be a USAGE error', async () => {
    const kafka = createMemoryClient();
    const c = kafka.consumer({ groupId: 'g' });
    await c.subscribe(['t']);
    await c.run(async () => {}, { concurrency: 1 });
    await Promise.all([c.stop(), c.stop()]);
    await expect(c.run(async () => {}, { concurrency: 1 })).rejects.toMatchObject({ code: 'USAGE' });
    expect(c.assignment()).toEqual([]);
  });
});

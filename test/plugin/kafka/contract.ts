import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { GateError } from '../../../src/plugin/core/errors.js';
import type { ConsumerPort, KafkaClient, KafkaRecord, OutRecord, PartitionBatch, RebalanceEvent } from '../../../src/plugin/kafka/port.js';

/** What a client under test brings: the time it needs to settle, and its own cleanup. */
export interface ContractEnv {
  client: KafkaClient;
  /** Passed to every consumer; a broker needs seconds to notice a member that left. */
  sessionTimeoutMs: number;
  /** How long to wait before concluding that nothing more arrives (longer than one fetch wait). */
  settleMs: number;
  /** Upper bound for any one condition to become true. */
  waitMs: number;
  close(): Promise<void>;
}

const runId = randomUUID().slice(0, 8);
let seq = 0;
const uniq = (what: string): string => `contract-${runId}-${what}-${seq++}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

const text = (b: Buffer | null | undefined): string | null => (b ? b.toString('utf8') : null);
const last = (b: PartitionBatch): string => b.records[b.records.length - 1].offset;

/** Records `${partition}:${i}` with value = that string, explicitly partitioned. */
function records(topic: string, partitions: number, perPartition: number, from = 0): OutRecord[] {
  const out: OutRecord[] = [];
  for (let i = from; i < from + perPartition; i++) {
    for (let p = 0; p < partitions; p++) out.push({ topic, partition: p, key: null, value: Buffer.from(`${p}:${i}`) });
  }
  return out;
}

/** Collects deliveries per partition; `onBatch` decides what to commit (default: everything). */
class Collector {
  readonly seen = new Map<number, string[]>();
  constructor(readonly onBatch: (b: PartitionBatch) => Promise<void> = (b) => b.commit(last(b)).then(() => undefined)) {}
  readonly handler = async (b: PartitionBatch): Promise<void> => {
    const list = this.seen.get(b.partition) ?? [];
    for (const r of b.records) list.push(text(r.value)!);
    this.seen.set(b.partition, list);
    await this.onBatch(b);
  };
  count(p?: number): number {
    return p === undefined ? [...this.seen.values()].reduce((n, l) => n + l.length, 0) : (this.seen.get(p)?.length ?? 0);
  }
  all(): string[] {
    return [...this.seen.values()].flat();
  }
}

const expected = (p: number, from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${p}:${from + i}`);

export function kafkaContract(name: string, setup: () => Promise<ContractEnv>): void {
  describe(`${name} (Kafka port contract)`, () => {
    let env: ContractEnv | undefined;
    const cleanups: (() => Promise<void>)[] = [];

    async function start(): Promise<ContractEnv> {
      env = await setup();
      return env;
    }

    function consumer(e: ContractEnv, groupId: string): ConsumerPort {
      const c = e.client.consumer({ groupId, sessionTimeoutMs: e.sessionTimeoutMs });
      cleanups.push(() => c.disconnect());
      return c;
    }

    async function topic(e: ContractEnv, what: string): Promise<string> {
      const t = uniq(what);
      const admin = e.client.admin();
      await admin.createTopics([{ topic: t, partitions: 3 }]);
      await admin.close();
      return t;
    }

    async function produce(e: ContractEnv, recs: OutRecord[]): Promise<void> {
      const producer = e.client.producer();
      cleanups.push(() => producer.disconnect());
      await producer.connect();
      await producer.send(recs);
    }

    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
      await env?.close();
      env = undefined;
    });

    it('run should deliver every record of 3 partitions in per-partition order', async () => {
      const e = await start();
      const t = await topic(e, 'order');
      const producer = e.client.producer();
      cleanups.push(() => producer.disconnect());
      for (let i = 0; i < 3; i++) await producer.send(records(t, 3, 10, i * 10));
      const col = new Collector();
      const group = uniq('g');
      const c = consumer(e, group);
      await c.subscribe([t], { fromBeginning: true });
      await c.run(col.handler, { concurrency: 3 });
      await waitFor('90 records', () => col.count() >= 90, e.waitMs);
      await sleep(e.settleMs);
      for (let p = 0; p < 3; p++) expect(col.seen.get(p)).toEqual(expected(p, 0, 30));
      await waitFor('commits', async () => {
        const committed = await e.client.admin().committedOffsets(group, t);
        return [0, 1, 2].every((p) => committed.get(p) === '30');
      }, e.waitMs);
    });

    it('commit should make a new member of the group resume right after the committed offset', async () => {
      const e = await start();
      const t = await topic(e, 'resume');
      await produce(e, records(t, 3, 10));
      const group = uniq('g');
      const a = consumer(e, group);
      // Commit offsets 0..4 of each partition, then pause it so nothing else is consumed.
      const colA = new Collector(async (b) => {
        const upTo = b.records.filter((r) => Number(r.offset) <= 4).pop();
        if (upTo) await b.commit(upTo.offset);
        if (Number(last(b)) >= 4) a.pause([{ topic: b.topic, partition: b.partition }]);
      });
      await a.subscribe([t], { fromBeginning: true });
      await a.run(colA.handler, { concurrency: 3 });
      const admin = e.client.admin();
      cleanups.push(() => admin.close());
      await waitFor('offset 5 committed on every partition', async () => {
        const committed = await admin.committedOffsets(group, t);
        return [0, 1, 2].every((p) => committed.get(p) === '5');
      }, e.waitMs);
      await a.stop();

      const colB = new Collector();
      const b = consumer(e, group);
      await b.subscribe([t], { fromBeginning: true });
      await b.run(colB.handler, { concurrency: 3 });
      await waitFor('15 records on the second member', () => colB.count() >= 15, e.waitMs);
      await sleep(e.settleMs);
      for (let p = 0; p < 3; p++) expect(colB.seen.get(p)).toEqual(expected(p, 5, 10));
    });

    it('run should redeliver records that were advanced but not committed after a restart', async () => {
      const e = await start();
      const t = await topic(e, 'redeliver');
      await produce(e, records(t, 3, 5));
      const group = uniq('g');
      const a = consumer(e, group);
      const colA = new Collector(async (b) => b.advance(last(b)));
      await a.subscribe([t], { fromBeginning: true });
      await a.run(colA.handler, { concurrency: 3 });
      await waitFor('15 records on the first member', () => colA.count() >= 15, e.waitMs);
      await a.stop();
      expect(colA.count()).toBe(15); // advance() moved the consumer on: no refetch within the member
      expect((await e.client.admin().committedOffsets(group, t)).size).toBe(0);

      const colB = new Collector();
      const b = consumer(e, group);
      await b.subscribe([t], { fromBeginning: true });
      await b.run(colB.handler, { concurrency: 3 });
      await waitFor('15 records again on the second member', () => colB.count() >= 15, e.waitMs);
      for (let p = 0; p < 3; p++) expect(colB.seen.get(p)).toEqual(expected(p, 0, 5));
    });

    it('run should fetch again what a returning handler left uncommitted, and after a throw', async () => {
      const e = await start();
      const t = await topic(e, 'retry');
      await produce(e, records(t, 1, 4));
      let calls = 0;
      const col = new Collector(async (b) => {
        calls++;
        if (calls === 1) return; // returns without commit or advance
        if (calls === 2) throw new Error('transient failure');
        await b.commit(last(b));
      });
      const c = consumer(e, uniq('g'));
      await c.subscribe([t], { fromBeginning: true });
      await c.run(col.handler, { concurrency: 1 });
      await waitFor('three deliveries of partition 0', () => calls >= 3, e.waitMs);
      await sleep(e.settleMs);
      expect(col.seen.get(0)).toEqual([...expected(0, 0, 4), ...expected(0, 0, 4), ...expected(0, 0, 4)]);
    });

    it('pause should stop deliveries of that partition and resume should restart them', async () => {
      const e = await start();
      const t = await topic(e, 'pause');
      await produce(e, records(t, 3, 5));
      const col = new Collector();
      const c = consumer(e, uniq('g'));
      c.pause([{ topic: t, partition: 0 }]); // before run: applies once assigned
      await c.subscribe([t], { fromBeginning: true });
      await c.run(col.handler, { concurrency: 3 });
      await waitFor('partitions 1 and 2', () => col.count(1) >= 5 && col.count(2) >= 5, e.waitMs);
      await sleep(e.settleMs);
      expect(col.count(0)).toBe(0);
      c.resume([{ topic: t, partition: 0 }]);
      await waitFor('partition 0 after resume', () => col.count(0) >= 5, e.waitMs);

      c.pause([{ topic: t, partition: 1 }]); // while running
      await produce(e, records(t, 3, 3, 5));
      await waitFor('new records of partitions 0 and 2', () => col.count(0) >= 8 && col.count(2) >= 8, e.waitMs);
      await sleep(e.settleMs);
      expect(col.count(1)).toBe(5);
      c.resume([{ topic: t, partition: 1 }]);
      await waitFor('partition 1 after resume', () => col.count(1) >= 8, e.waitMs);
      for (let p = 0; p < 3; p++) expect(col.seen.get(p)).toEqual(expected(p, 0, 8));
    });

    it('run should split partitions between two members and hand them all to the survivor', async () => {
      const e = await start();
      const t = await topic(e, 'split');
      const group = uniq('g');
      const a = consumer(e, group);
      const b = consumer(e, group);
      const eventsB: RebalanceEvent[] = [];
      b.onRebalance((ev) => eventsB.push(ev));
      const colA = new Collector();
      const colB = new Collector();
      await a.subscribe([t], { fromBeginning: true });
      await a.run(colA.handler, { concurrency: 3 });
      await waitFor('first member owns 3 partitions', () => a.assignment().length === 3, e.waitMs);
      await b.subscribe([t], { fromBeginning: true });
      await b.run(colB.handler, { concurrency: 3 });
      await waitFor('partitions split', () => a.assignment().length > 0 && b.assignment().length > 0 && a.assignment().length + b.assignment().length === 3, e.waitMs);
      const partsA = a.assignment().map((tp) => tp.partition).sort();
      const partsB = b.assignment().map((tp) => tp.partition).sort();
      expect([...partsA, ...partsB].sort()).toEqual([0, 1, 2]);

      await produce(e, records(t, 3, 10));
      await waitFor('30 records over both members', () => colA.count() + colB.count() >= 30, e.waitMs);
      expect([...colA.seen.keys()].sort()).toEqual(partsA);
      expect([...colB.seen.keys()].sort()).toEqual(partsB);

      await b.stop();
      expect(eventsB[eventsB.length - 1]).toEqual({ assigned: [], revoked: partsB.map((partition) => ({ topic: t, partition })) });
      await waitFor('survivor owns all 3 partitions', () => a.assignment().length === 3, e.waitMs);
      await produce(e, records(t, 3, 10, 10));
      const all = [0, 1, 2].flatMap((p) => expected(p, 0, 20));
      await waitFor('every record delivered', () => {
        const seen = new Set([...colA.all(), ...colB.all()]);
        return all.every((v) => seen.has(v));
      }, e.waitMs);
    });

    it('isActive should turn false on a running batch whose partition moves to a new member', async () => {
      const e = await start();
      const t = await topic(e, 'revoke');
      await produce(e, records(t, 3, 2));
      const group = uniq('g');
      let released = false;
      const running = new Set<number>();
      const sawInactive = new Map<number, boolean>();
      const a = consumer(e, group);
      await a.subscribe([t], { fromBeginning: true });
      await a.run(async (b) => {
        running.add(b.partition);
        while (b.isActive() && !released) await sleep(20);
        sawInactive.set(b.partition, (sawInactive.get(b.partition) ?? false) || !b.isActive());
        running.delete(b.partition);
        if (b.isActive()) await b.commit(last(b));
      }, { concurrency: 3 });
      await waitFor('three handlers running', () => running.size === 3, e.waitMs);

      const colB = new Collector();
      const b = consumer(e, group);
      await b.subscribe([t], { fromBeginning: true });
      await b.run(colB.handler, { concurrency: 3 });
      await waitFor('second member assigned', () => b.assignment().length > 0, e.waitMs);
      const partsB = b.assignment().map((tp) => tp.partition);
      await waitFor('the old owner to see its moved batches inactive', () => partsB.every((p) => sawInactive.get(p) === true), e.waitMs);
      released = true;
      // A committed nothing on the moved partitions: B gets all of their records.
      await waitFor('moved partitions consumed by the new member', () => partsB.every((p) => colB.count(p) >= 2), e.waitMs);
      for (const p of partsB) expect(colB.seen.get(p)).toEqual(expected(p, 0, 2));
    });

    it('run should keep to the concurrency limit and one handler per partition', async () => {
      const e = await start();
      const t = await topic(e, 'concurrency');
      const producer = e.client.producer();
      cleanups.push(() => producer.disconnect());
      // Several sends make several batches per partition.
      for (let i = 0; i < 6; i++) await producer.send(records(t, 3, 2, i * 2));
      let now = 0;
      let peak = 0;
      const perPartition = new Set<number>();
      let overlap = false;
      const col = new Collector(async (b) => {
        if (perPartition.has(b.partition)) overlap = true;
        perPartition.add(b.partition);
        peak = Math.max(peak, ++now);
        await sleep(30);
        now--;
        perPartition.delete(b.partition);
        await b.commit(last(b));
      });
      const c = consumer(e, uniq('g'));
      await c.subscribe([t], { fromBeginning: true });
      await c.run(col.handler, { concurrency: 2 });
      await waitFor('36 records', () => col.count() >= 36, e.waitMs);
      expect(peak).toBeLessThanOrEqual(2);
      expect(overlap).toBe(false);
      for (let p = 0; p < 3; p++) expect(col.seen.get(p)).toEqual(expected(p, 0, 12));
    });

    it('commit should reject an offset outside its batch with USAGE', async () => {
      const e = await start();
      const t = await topic(e, 'usage');
      await produce(e, records(t, 1, 2));
      const errors: unknown[] = [];
      const c = consumer(e, uniq('g'));
      await c.subscribe([t], { fromBeginning: true });
      await c.run(async (b) => {
        for (const bad of [String(Number(last(b)) + 1), '-1', 'abc']) errors.push(await b.commit(bad).catch((err: unknown) => err));
        await b.commit(last(b));
      }, { concurrency: 1 });
      await waitFor('one batch', () => errors.length >= 3, e.waitMs);
      expect(errors.slice(0, 3).map((err) => (err as GateError).code)).toEqual(['USAGE', 'USAGE', 'USAGE']);
    });

    it('stop should wait for a running handler and keep its commit', async () => {
      const e = await start();
      const t = await topic(e, 'stop');
      await produce(e, records(t, 1, 3));
      const group = uniq('g');
      let entered!: () => void;
      const inHandler = new Promise<void>((r) => (entered = r));
      const activeAfterStop: boolean[] = [];
      const c = consumer(e, group);
      await c.subscribe([t], { fromBeginning: true });
      await c.run(async (b) => {
        entered();
        await sleep(300);
        activeAfterStop.push(b.isActive());
        await b.commit(last(b));
      }, { concurrency: 1 });
      await inHandler;
      await c.stop();
      expect(activeAfterStop).toEqual([false]);
      expect((await e.client.admin().committedOffsets(group, t)).get(0)).toBe('3');
      expect(c.assignment()).toEqual([]);
    });

    it('readAll should return exactly what was produced, by partition and offset', async () => {
      const e = await start();
      const t = await topic(e, 'readall');
      const sent = records(t, 3, 7);
      await produce(e, sent);
      const admin = e.client.admin();
      cleanups.push(() => admin.close());
      const got = await admin.readAll(t);
      expect(got.map((r) => text(r.value))).toEqual([0, 1, 2].flatMap((p) => expected(p, 0, 7)));
      for (const r of got) expect(r.offset).toBe(text(r.value)!.split(':')[1]);
      expect(Object.fromEntries(await admin.endOffsets(t))).toEqual({ 0: '7', 1: '7', 2: '7' });
    });

    it('send should write every record of concurrent sends to one partition once, each send in its order', async () => {
      const e = await start();
      const t = await topic(e, 'concurrent');
      const producer = e.client.producer();
      cleanups.push(() => producer.disconnect());
      await producer.connect();
      // The gate sends the chunks of several input partitions at once, often to the same output partition.
      const sends = Array.from({ length: 12 }, (_, s) => Array.from({ length: 5 }, (_, i): OutRecord => ({ topic: t, partition: 0, key: null, value: Buffer.from(`${s}:${i}`) })));
      await Promise.all(sends.map((recs) => producer.send(recs)));
      const admin = e.client.admin();
      cleanups.push(() => admin.close());
      const got = (await admin.readAll(t)).map((r) => text(r.value)!);
      expect([...got].sort()).toEqual(sends.flat().map((r) => text(r.value)!).sort());
      for (let s = 0; s < sends.length; s++) expect(got.filter((v) => v.startsWith(`${s}:`))).toEqual(expected(s, 0, 5));
    });

    it('send should reject a record over the broker\'s size limit with KAFKA_TOO_LARGE, not retriable', async () => {
      const e = await start();
      const t = await topic(e, 'too-large');
      const producer = e.client.producer();
      cleanups.push(() => producer.disconnect());
      await producer.connect();
      const err = await producer.send([{ topic: t, partition: 0, key: null, value: Buffer.alloc(11 * 1024 * 1024) }]).catch((x: unknown) => x);
      expect((err as GateError).code).toBe('KAFKA_TOO_LARGE');
      expect((err as GateError).canRetry).toBe(false);
    });

    it('send should round-trip keys and headers and keep one key on one partition', async () => {
      const e = await start();
      const t = await topic(e, 'headers');
      const sent: OutRecord[] = [
        { topic: t, key: 'k-string', value: Buffer.from('a'), headers: { h1: 'text', h2: Buffer.from([0, 1, 255]) } },
        { topic: t, key: Buffer.from([7, 8, 9]), value: Buffer.from('b') },
        { topic: t, key: null, value: Buffer.alloc(0), partition: 2, headers: { empty: '' } },
        ...Array.from({ length: 9 }, (_, i) => ({ topic: t, key: 'same-key', value: Buffer.from(`s${i}`) })),
      ];
      await produce(e, sent);
      const admin = e.client.admin();
      cleanups.push(() => admin.close());
      const got = await admin.readAll(t);
      const byValue = new Map<string, KafkaRecord>(got.map((r) => [text(r.value)!, r]));
      expect(got).toHaveLength(sent.length);
      expect(byValue.get('a')!.key).toEqual(Buffer.from('k-string'));
      expect(byValue.get('a')!.headers.h1).toEqual(Buffer.from('text'));
      expect(byValue.get('a')!.headers.h2).toEqual(Buffer.from([0, 1, 255]));
      expect(byValue.get('b')!.key).toEqual(Buffer.from([7, 8, 9]));
      const empty = byValue.get('')!;
      expect([empty.key, empty.partition, empty.headers.empty]).toEqual([null, 2, Buffer.alloc(0)]);
      const same = got.filter((r) => text(r.key) === 'same-key');
      expect(new Set(same.map((r) => r.partition)).size).toBe(1);
      expect(same.map((r) => text(r.value))).toEqual(Array.from({ length: 9 }, (_, i) => `s${i}`));
      expect(Number(got[0].timestamp)).toBeGreaterThan(Date.now() - 600_000);

      // The consumer hands out the same bytes as readAll.
      const col: KafkaRecord[] = [];
      const c = consumer(e, uniq('g'));
      await c.subscribe([t], { fromBeginning: true });
      await c.run(async (b) => {
        col.push(...b.records);
        await b.commit(last(b));
      }, { concurrency: 3 });
      await waitFor('all records consumed', () => col.length >= sent.length, e.waitMs);
      const strip = (r: KafkaRecord) => ({ ...r, timestamp: undefined });
      const order = (rs: KafkaRecord[]) => [...rs].sort((x, y) => x.partition - y.partition || Number(x.offset) - Number(y.offset)).map(strip);
      expect(order(col)).toEqual(order(got));
    });

    it('sendInTransaction should publish the records and the input offset together, or neither', async () => {
      const e = await start();
      const input = await topic(e, 'tx-in');
      const output = await topic(e, 'tx-out');
      const group = uniq('g');
      expect(e.client.producer().sendInTransaction).toBeUndefined();
      const producer = e.client.producer({ transactionalIdPrefix: `${group}-` });
      cleanups.push(() => producer.disconnect());
      await producer.connect();
      const admin = e.client.admin();
      cleanups.push(() => admin.close());

      // The broker writes the commit markers just after the commit returns: visibility is eventual.
      const committedValues = async () => (await admin.readAll(output, { readCommitted: true })).map((r) => text(r.value)).sort();
      const committedInput = async () => (await admin.committedOffsets(group, input)).get(1);
      await producer.sendInTransaction!(records(output, 3, 1), { groupId: group, topic: input, partition: 1, offset: '6' });
      await waitFor('committed transaction visible', async () => (await committedValues()).length === 3, e.waitMs);
      expect(await committedValues()).toEqual(['0:0', '1:0', '2:0']);
      await waitFor('input offset 7 committed', async () => (await committedInput()) === '7', e.waitMs);

      // 11 MiB is over the broker's message.max.bytes: the small record of the same transaction must not show.
      const tooBig: OutRecord[] = [
        { topic: output, partition: 0, key: null, value: Buffer.from('aborted') },
        { topic: output, partition: 1, key: null, value: Buffer.alloc(11 * 1024 * 1024) },
      ];
      const failed = await producer.sendInTransaction!(tooBig, { groupId: group, topic: input, partition: 1, offset: '9' }).catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(GateError);
      expect((failed as GateError).code).toBe('KAFKA_TOO_LARGE');

      // A later transaction on partition 0 is visible only after the fate of 'aborted' before it is decided.
      await producer.sendInTransaction!([{ topic: output, partition: 0, key: 'k', value: Buffer.from('after') }], { groupId: group, topic: input, partition: 1, offset: '9' });
      await waitFor('second transaction visible', async () => (await committedValues()).includes('after'), e.waitMs);
      expect(await committedValues()).toEqual(['0:0', '1:0', '2:0', 'after']);
      await waitFor('input offset 10 committed', async () => (await committedInput()) === '10', e.waitMs);
    });
  });
}


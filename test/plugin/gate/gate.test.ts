import { describe, expect, it, onTestFinished } from 'vitest';
import { subscribeTo } from '../../../src/plugin/core/diagnostic.js';
import { Gate, gateChannels } from '../../../src/plugin/gate/gate.js';
import { Pipeline } from '../../../src/plugin/pipeline/pipeline.js';
import { GateError } from '../../../src/plugin/core/errors.js';
import type { Frame } from '../../../src/plugin/core/frame.js';
import type { Stage } from '../../../src/plugin/core/stage.js';
import { createMemoryClient } from '../../../src/plugin/kafka/memory.js';
import type { ConsumerPort, OutRecord, PartitionBatch, ProducerPort } from '../../../src/plugin/kafka/port.js';

/** Scores "score:<x>" values; anything else is bad input. No models: this tests the loop. */
const fakeScore: Stage = {
  name: 'fake',
  async process(frames: Frame[]) {
    for (const f of frames) {
      const v = f.source!.value!.toString();
      if (!v.startsWith('score:')) { f.error = new GateError('INPUT_AVRO_DECODE', 'bad'); f.errorStage = 'fake'; continue; }
      f.regression = { score: Number(v.slice(6)), modelId: 'm', modelVersion: '1' };
      f.decision = f.regression.score >= 0.5 ? 'ACCEPT' : 'REJECT';
    }
    await new Promise((r) => setTimeout(r, 1));
    return frames;
  },
  async close() {},
};

const build = async (frames: Frame[]): Promise<OutRecord[]> => frames.map((f) => ({
  topic: f.error ? 'dlq' : 'out', key: null, value: Buffer.from(f.error ? f.error.code : f.decision!),
  headers: { 'diffiqa-source': `${f.source!.topic}/${f.source!.partition}/${f.source!.offset}` },
}));

/** Records, at each commit, whether every offset up to it had its output acknowledged. */
function watchCommits(consumer: ConsumerPort, acked: Set<string>, violations: string[]): ConsumerPort {
  const run = consumer.run.bind(consumer);
  consumer.run = (handler, opts) => run((batch: PartitionBatch) => handler(new Proxy(batch, {
    get(target, prop) {
      if (prop === 'commit') return async (offset: string) => {
        for (const r of target.records) {
          if (BigInt(r.offset) <= BigInt(offset) && !acked.has(`${r.topic}/${r.partition}/${r.offset}`)) violations.push(`${r.partition}/${r.offset}`);
        }
        return target.commit(offset);
      };
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  })), opts);
  return consumer;
}

function ackingProducer(producer: ProducerPort, acked: Set<string>, delayMs = 3): ProducerPort {
  const send = producer.send.bind(producer);
  producer.send = async (records) => {
    await new Promise((r) => setTimeout(r, delayMs));
    await send(records);
    for (const r of records) acked.add(String(r.headers!['diffiqa-source']));
  };
  return producer;
}

/** Per partition: the last offset handed in (advance) and the last committed, checked at each step. */
function watchWindow(consumer: ConsumerPort, limit: number, breaches: string[], handedIn: Map<number, bigint>): ConsumerPort {
  const committed = new Map<number, bigint>();
  const check = (p: number) => {
    const gap = (handedIn.get(p) ?? -1n) - (committed.get(p) ?? -1n);
    if (gap > BigInt(limit)) breaches.push(`partition ${p}: ${gap} records handed in and uncommitted`);
  };
  const run = consumer.run.bind(consumer);
  consumer.run = (handler, opts) => run((batch: PartitionBatch) => handler(new Proxy(batch, {
    get(target, prop) {
      if (prop === 'advance') return (offset: string) => { target.advance(offset); handedIn.set(target.partition, BigInt(offset)); check(target.partition); };
      if (prop === 'commit') return async (offset: string) => {
        const ok = await target.commit(offset);
        if (ok) committed.set(target.partition, BigInt(offset));
        return ok;
      };
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  })), opts);
  return consumer;
}

async function setup(n: number, opts: { failSends?: number; fences?: number } = {}) {
  const client = createMemoryClient({ defaultPartitions: 3, maxBatchRecords: 50, retryBackoffMs: 5 });
  const producer = client.producer();
  await producer.connect();
  const input: OutRecord[] = Array.from({ length: n }, (_, i) => ({ topic: 'in', key: `cam-${i % 5}`, value: Buffer.from(i % 20 === 7 ? 'garbage' : `score:${(i % 10) / 10}`) }));
  await producer.send(input);
  const acked = new Set<string>();
  const violations: string[] = [];
  const consumer = watchCommits(client.consumer({ groupId: 'g' }), acked, violations);
  const gateProducer = ackingProducer(client.producer(), acked);
  if (opts.failSends) client.failNext('send', opts.failSends);
  if (opts.fences) client.failNext('fence', opts.fences);
  const gate = new Gate(consumer, gateProducer, new Pipeline([fakeScore]), build, { groupId: 'g', inputTopic: 'in', inFlightPerPartition: 8, partitionsConcurrently: 3, exactlyOnce: false });
  return { client, gate, acked, violations };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) { if (Date.now() > end) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 10)); }
}

/** Runs the gate over `n` inputs until every offset is committed: the sources that came out, the retries. */
async function runAll(n: number, opts: { failSends?: number; fences?: number } = {}) {
  const { client, gate, violations } = await setup(n, opts);
  const retries: string[] = [];
  onTestFinished(subscribeTo(gateChannels.retry, gate, (e) => void retries.push(`${e.partition}:${e.error.code}`)));
  await gate.start();
  const admin = client.admin();
  await until(async () => [...(await admin.committedOffsets('g', 'in')).values()].reduce((a, b) => a + Number(b), 0) === n);
  await gate.stop(5000);
  const sources = [...(await admin.readAll('out')), ...(await admin.readAll('dlq'))].map((r) => r.headers['diffiqa-source']!.toString());
  return { client, sources, retries, violations };
}

describe('Gate', () => {
  it('start should turn every input into exactly one output or DLQ record and commit everything', async () => {
    const { client, gate, violations } = await setup(300);
    await gate.start();
    const admin = client.admin();
    await until(async () => [...(await admin.committedOffsets('g', 'in')).values()].reduce((a, b) => a + Number(b), 0) === 300);
    await gate.stop(5000);
    const out = await admin.readAll('out');
    const dlq = await admin.readAll('dlq');
    expect(out.length + dlq.length).toBe(300);
    expect(dlq.length).toBe(15);
    expect(new Set([...out, ...dlq].map((r) => r.headers['diffiqa-source']!.toString())).size).toBe(300);
    expect(violations).toEqual([]);
  });

  it('commit should never run before the outputs of its offsets are acknowledged, even when sends fail', async () => {
    const { client, gate, violations } = await setup(200, { failSends: 3 });
    await gate.start();
    const admin = client.admin();
    await until(async () => [...(await admin.committedOffsets('g', 'in')).values()].reduce((a, b) => a + Number(b), 0) === 200);
    await gate.stop(5000);
    const sources = new Set([...(await admin.readAll('out')), ...(await admin.readAll('dlq'))].map((r) => r.headers['diffiqa-source']!.toString()));
    // Failed sends are redone from the last commit: nothing is lost (duplicates are allowed then).
    expect(sources.size).toBe(200);
    expect(violations).toEqual([]);
  });

  it('start should fetch and score the next records while earlier ones are published, within the in-flight window', async () => {
    const client = createMemoryClient({ defaultPartitions: 3, maxBatchRecords: 50, retryBackoffMs: 5 });
    const producer = client.producer();
    await producer.connect();
    await producer.send(Array.from({ length: 300 }, (_, i) => ({ topic: 'in', key: `cam-${i % 5}`, value: Buffer.from(`score:${(i % 10) / 10}`) })));
    const breaches: string[] = [];
    const handedIn = new Map<number, bigint>();
    const consumer = watchWindow(client.consumer({ groupId: 'g' }), 8, breaches, handedIn);
    let overlapped = 0;
    const slow = client.producer();
    const send = slow.send.bind(slow);
    slow.send = async (records) => {
      // Was anything of this partition past these records already handed to the pipeline?
      const [p, last] = String(records[records.length - 1].headers!['diffiqa-source']).split('/').slice(1).map(BigInt);
      if ((handedIn.get(Number(p)) ?? -1n) > last) overlapped++;
      await new Promise((r) => setTimeout(r, 15));
      await send(records);
    };
    const gate = new Gate(consumer, slow, new Pipeline([fakeScore]), build, { groupId: 'g', inputTopic: 'in', inFlightPerPartition: 8, partitionsConcurrently: 3, exactlyOnce: false });
    await gate.start();
    const admin = client.admin();
    await until(async () => [...(await admin.committedOffsets('g', 'in')).values()].reduce((a, b) => a + Number(b), 0) === 300);
    await gate.stop(5000);
    expect(breaches).toEqual([]);
    expect(overlapped).toBeGreaterThan(0);
    expect(gate.inFlight).toBe(0);
    expect((await admin.readAll('out')).length).toBe(300);
  });

  it('a failed send should be retried in place, reported to the observer, and lose nothing', async () => {
    const { sources, retries } = await runAll(100, { failSends: 2 });
    expect(retries).toHaveLength(2);
    expect(new Set(sources).size).toBe(100);
    // Retried in place: a failed send published nothing, so nothing is published twice either.
    expect(sources).toHaveLength(100);
  });

  it('a fenced commit that keeps the fetch position should lose nothing: the stale chunks handed in are still published', async () => {
    // Batches of 50 are handed in as chunks of 4 (window 8), so a fence at a commit leaves handed-in
    // chunks of the now-stale batch in the lane, their offsets already advanced; the member keeps its
    // position, as kafkajs did across a broker restart. Dropping them lost records (found on a real broker).
    const { client, sources, retries, violations } = await runAll(300, { fences: 3 });
    expect(new Set(sources).size).toBe(300);
    expect(violations).toEqual([]);
    // The three fences happened; a fenced commit is not retried (its batch is stale): the next one covers it.
    expect(client.faultsLeft('fence')).toBe(0);
    expect(retries).toEqual([]);
  });

  it('exactly-once: a transaction that fails while its batch is stale but the partition still ours should be retried, not given up', async () => {
    const client = createMemoryClient({ defaultPartitions: 1, maxBatchRecords: 50, retryBackoffMs: 5 });
    const producer = client.producer();
    await producer.connect();
    await producer.send(Array.from({ length: 100 }, (_, i) => ({ topic: 'in', key: null, value: Buffer.from(`score:${(i % 10) / 10}`) })));
    const gate = new Gate(client.consumer({ groupId: 'g' }), client.producer({ transactionalIdPrefix: 'tx' }), new Pipeline([fakeScore]), build,
      { groupId: 'g', inputTopic: 'in', inFlightPerPartition: 8, partitionsConcurrently: 1, exactlyOnce: true, retryBackoffMs: 5 });
    // After the first transaction: the heartbeat meets a rebalance (the batch goes stale, the partition
    // and the fetch position stay), and the next transaction, of a chunk already handed in, fails once.
    let first = true;
    onTestFinished(subscribeTo(gateChannels.chunk, gate, () => { if (first) { first = false; client.failNext('fence', 1); client.failNext('transaction', 1); } }));
    await gate.start();
    const admin = client.admin();
    await until(async () => (await admin.committedOffsets('g', 'in')).get(0) === '100');
    await gate.stop(5000);
    expect([client.faultsLeft('fence'), client.faultsLeft('transaction')]).toEqual([0, 0]);
    const sources = (await admin.readAll('out')).map((r) => r.headers['diffiqa-source']!.toString());
    // Given up, that chunk was skipped: the next transaction committed offsets past it.
    expect(new Set(sources).size).toBe(100);
    expect(sources).toHaveLength(100);
  });

  it('stop should be idempotent and leave nothing committed past what was published', async () => {
    const { client, gate, acked } = await setup(500);
    await gate.start();
    await until(() => acked.size > 40);
    const a = gate.stop(5000);
    const b = gate.stop(5000);
    expect(await a).toBe(true);
    expect(await b).toBe(true);
    const committed = await client.admin().committedOffsets('g', 'in');
    for (const [partition, next] of committed) {
      for (let o = 0n; o < BigInt(next); o++) expect(acked.has(`in/${partition}/${o}`)).toBe(true);
    }
  });

  it('a dead letter too large for the broker should be published without the original message, and the partition move on', async () => {
    // The broker takes 4 KB a record; a bad input of 3 KB plus its dead letter's envelope does not fit.
    const client = createMemoryClient({ defaultPartitions: 1, maxBatchRecords: 50, retryBackoffMs: 5, maxMessageBytes: 4096 });
    const producer = client.producer();
    await producer.connect();
    await producer.send(Array.from({ length: 40 }, (_, i) => ({ topic: 'in', key: null, value: Buffer.from(i === 5 ? `garbage${'x'.repeat(3000)}` : `score:${(i % 10) / 10}`) })));
    const letters = async (frames: Frame[], opts?: { compact?: boolean }): Promise<OutRecord[]> => (await build(frames)).map((r, i) => (r.topic !== 'dlq' ? r
      : { ...r, value: opts?.compact ? r.value : Buffer.concat([r.value, Buffer.alloc(2048), frames[i].source!.value!]) }));
    const gate = new Gate(client.consumer({ groupId: 'g' }), client.producer(), new Pipeline([fakeScore]), letters,
      { groupId: 'g', inputTopic: 'in', inFlightPerPartition: 8, partitionsConcurrently: 1, exactlyOnce: false, retryBackoffMs: 5 });
    const compacted: string[] = [];
    const retries: string[] = [];
    onTestFinished(subscribeTo(gateChannels.compacted, gate, (e) => void compacted.push(e.error.code)));
    onTestFinished(subscribeTo(gateChannels.retry, gate, (e) => void retries.push(e.error.code)));
    await gate.start();
    const admin = client.admin();
    await until(async () => (await admin.committedOffsets('g', 'in')).get(0) === '40');
    expect(await gate.stop(5000)).toBe(true);
    const out = [...(await admin.readAll('out')), ...(await admin.readAll('dlq'))];
    expect(new Set(out.map((r) => r.headers['diffiqa-source']!.toString())).size).toBe(40);
    expect(out).toHaveLength(40);
    // Refused once for its size and never retried as it was: the same bytes can never fit.
    expect(compacted).toEqual(['KAFKA_TOO_LARGE']);
    expect(retries).toEqual([]);
  });

  it('an error that no retry can mend should fail the gate at once, commit nothing past it and stop unclean', async () => {
    const { client, gate, sends } = await failingGate({ after: 3, err: () => new GateError('KAFKA_PRODUCE', 'refused for good', { canRetry: false }) });
    await gate.start();
    const failure = await gate.failed;
    expect(failure.code).toBe('GATE_FATAL');
    expect(failure.details).toEqual({ code: 'KAFKA_PRODUCE' });
    // Not retried: the fourth send was the last one tried.
    expect(sends()).toBe(4);
    expect(await gate.stop(5000)).toBe(false);
    expect(gate.counts.unfinished).toBeGreaterThan(0);
    const committed = [...(await client.admin().committedOffsets('g', 'in')).values()].reduce((a, b) => a + Number(b), 0);
    expect(committed).toBe(gate.counts.published);
  });

  it('a retriable error should be retried only within the retry budget, then fail the gate', async () => {
    const { gate, sends } = await failingGate({ after: 0, err: () => new GateError('KAFKA_NETWORK', 'broker away'), retryBudgetMs: 300 });
    const t0 = performance.now();
    await gate.start();
    const failure = await gate.failed;
    // Back-off 5, 10, 20, 40, 80 ms…: a handful of tries, then the budget (300 ms) is spent.
    expect(failure.code).toBe('GATE_FATAL');
    expect(failure.message).toMatch(/budget 300 ms/);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(sends()).toBeGreaterThan(2);
    expect(await gate.stop(5000)).toBe(false);
  });
});

/** A gate on one partition whose sends succeed `after` times, then throw `err()`. */
async function failingGate(o: { after: number; err: () => Error; retryBudgetMs?: number }) {
  const client = createMemoryClient({ defaultPartitions: 1, maxBatchRecords: 50, retryBackoffMs: 5 });
  const producer = client.producer();
  await producer.connect();
  await producer.send(Array.from({ length: 100 }, (_, i) => ({ topic: 'in', key: null, value: Buffer.from(`score:${(i % 10) / 10}`) })));
  const gateProducer = client.producer();
  const send = gateProducer.send.bind(gateProducer);
  let n = 0;
  gateProducer.send = async (records) => {
    if (n++ >= o.after) throw o.err();
    await send(records);
  };
  const gate = new Gate(client.consumer({ groupId: 'g' }), gateProducer, new Pipeline([fakeScore]), build,
    { groupId: 'g', inputTopic: 'in', inFlightPerPartition: 8, partitionsConcurrently: 1, exactlyOnce: false, retryBackoffMs: 5, retryBudgetMs: o.retryBudgetMs });
  return { client, gate, sends: () => n };
}

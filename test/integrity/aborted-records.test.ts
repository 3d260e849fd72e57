/**
 * read_committed on the real broker, on each client: records of aborted transactions are never
 * seen, by the consumer (what the gate reads) nor by readAll (what tests and the demo read).
 * Two transactions overlap in one partition and the later one is aborted first: brokers list
 * aborted transactions in the order they ended, which is where kafkajs 2.2.4's own filter let
 * records through (src/plugin/kafka/aborted.ts; found by the exactly-once crash test).
 * And one producer's committed transactions between its aborted ones, where @platformatic/kafka
 * 1.35's own filter (one range per producer id) dropped committed records (found by the
 * exactly-once crash test: 246 outcomes lost to read_committed readers). The writer is kafkajs
 * itself (the port cannot hold two transactions open at once); the readers are the client under test.
 * And an abort marker whose transaction the broker does not list, beside one it does, on which
 * @platformatic/kafka 1.35's filter threw from its socket callback (found by the exactly-once
 * SIGKILL test in CI: an uncaught TypeError and a fetch never answered).
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KafkaRecord } from '../../src/plugin/kafka/port.js';
import { KAFKA_CLIENTS, assertBroker, brokers, testClient, uniqueNames, waitFor } from '../helpers/gate-harness.js';
import { abortWithoutRecords } from '../helpers/raw-transaction.js';

beforeAll(assertBroker);

const values = (rs: KafkaRecord[]): string[] => rs.map((r) => r.value!.toString());

/** Partition 0 gets, in offset order: a1 b1 plain-1 c1 (c commits) a2 b2, then B aborts, A aborts, plain-2. */
async function writeOverlappingAborts(topic: string): Promise<void> {
  const kafka = new Kafka({ brokers, clientId: `aborts-${randomUUID().slice(0, 8)}`, logLevel: logLevel.NOTHING });
  const tx = (name: string): Producer => kafka.producer({ transactionalId: `${topic}-${name}`, idempotent: true, maxInFlightRequests: 1 });
  const [a, b, c] = [tx('a'), tx('b'), tx('c')];
  const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const all = [a, b, c, plain];
  await Promise.all(all.map((p) => p.connect()));
  try {
    const send = (t: { send: Producer['send'] }, value: string) => t.send({ topic, acks: -1, messages: [{ partition: 0, value }] });
    const ta = await a.transaction();
    await send(ta, 'a1');
    const tb = await b.transaction();
    await send(tb, 'b1');
    await send(plain, 'plain-1');
    const tc = await c.transaction();
    await send(tc, 'c1');
    await tc.commit();
    await send(ta, 'a2');
    await send(tb, 'b2');
    await tb.abort();
    await ta.abort();
    await send(plain, 'plain-2');
  } finally {
    await Promise.all(all.map((p) => p.disconnect()));
  }
}

/**
 * One transactional id: abort, commit, abort, then a restarted producer (same id, the epoch bumped,
 * the same producer id) whose predecessor left a transaction open, which the broker aborts, then
 * commits. The exactly-once gate writes exactly this after a SIGKILL (one id per input partition).
 */
async function writeOneProducersAborts(topic: string): Promise<void> {
  const kafka = new Kafka({ brokers, clientId: `aborts-${randomUUID().slice(0, 8)}`, logLevel: logLevel.NOTHING });
  const make = (): Producer => kafka.producer({ transactionalId: `${topic}-p`, idempotent: true, maxInFlightRequests: 1 });
  const send = (t: { send: Producer['send'] }, value: string) => t.send({ topic, acks: -1, messages: [{ partition: 0, value }] });
  const first = make();
  await first.connect();
  for (const [value, end] of [['x1', 'abort'], ['ok-1', 'commit'], ['x2', 'abort'], ['ok-2', 'commit']] as const) {
    const t = await first.transaction();
    await send(t, value);
    await (end === 'abort' ? t.abort() : t.commit());
  }
  const open = await first.transaction();
  await send(open, 'x-open');
  // No disconnect: as a SIGKILL leaves it. The next producer of the id fences it and the broker aborts its transaction.
  const second = make();
  await second.connect();
  try {
    const t = await second.transaction();
    await send(t, 'ok-3');
    await t.commit();
  } finally {
    await second.disconnect();
    await first.disconnect().catch(() => undefined);
  }
}

/** Partition 0 gets: c1 (commits), a1 (aborted, listed), an abort marker of another producer with no records (not listed), plain-1. */
async function writeUnlistedAbortMarker(topic: string): Promise<void> {
  const kafka = new Kafka({ brokers, clientId: `aborts-${randomUUID().slice(0, 8)}`, logLevel: logLevel.NOTHING });
  const tx = kafka.producer({ transactionalId: `${topic}-a`, idempotent: true, maxInFlightRequests: 1 });
  const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await Promise.all([tx.connect(), plain.connect()]);
  try {
    const send = (t: { send: Producer['send'] }, value: string) => t.send({ topic, acks: -1, messages: [{ partition: 0, value }] });
    const committed = await tx.transaction();
    await send(committed, 'c1');
    await committed.commit();
    const aborted = await tx.transaction();
    await send(aborted, 'a1');
    await aborted.abort();
    await abortWithoutRecords(brokers[0], topic, 0, `${topic}-empty`);
    await send(plain, 'plain-1');
  } finally {
    await Promise.all([tx.disconnect(), plain.disconnect()]);
  }
}

/** Every record the consumer of the port is handed from the beginning, once it has committed to `end`. */
async function consumeAll(client: ReturnType<typeof testClient>, groupId: string, topic: string, end: string): Promise<KafkaRecord[]> {
  const admin = client.admin();
  const seen: KafkaRecord[] = [];
  const consumer = client.consumer({ groupId, sessionTimeoutMs: 6000 });
  try {
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run(async (batch) => {
      seen.push(...batch.records);
      await batch.commit(batch.records[batch.records.length - 1].offset);
    }, { concurrency: 1 });
    // Committed past the last marker: everything up to the end was fetched and filtered.
    await waitFor('the consumer to commit to the end', async () => (await admin.committedOffsets(groupId, topic)).get(0) === end, 20_000);
  } finally {
    await consumer.disconnect();
    await admin.close();
  }
  return seen;
}

/** A partition as written, its end offset once stable, every record read_uncommitted, and what read_committed readers must get. */
interface Scenario { name: string; write: (topic: string) => Promise<void>; end: string; all: string[]; committed: string[] }

const SCENARIOS: Scenario[] = [
  {
    // 6 records and 6 markers.
    name: 'keep a producer\'s committed transactions between its aborted ones, across a restart of the producer',
    write: writeOneProducersAborts, end: '12', all: ['x1', 'ok-1', 'x2', 'ok-2', 'x-open', 'ok-3'], committed: ['ok-1', 'ok-2', 'ok-3'],
  },
  {
    name: 'never deliver records of overlapping aborted transactions read_committed',
    write: writeOverlappingAborts, end: '10', all: ['a1', 'b1', 'plain-1', 'c1', 'a2', 'b2', 'plain-2'], committed: ['plain-1', 'c1', 'plain-2'],
  },
  {
    // c1, its marker, a1, its marker, the unlisted marker, plain-1.
    name: 'pass an abort marker whose transaction the broker does not list',
    write: writeUnlistedAbortMarker, end: '6', all: ['c1', 'a1', 'plain-1'], committed: ['c1', 'plain-1'],
  },
];

describe.each(KAFKA_CLIENTS)('aborted transactions (real broker) (%s)', (kind) => {
  it.each(SCENARIOS.map((s) => [s.name, s] as const))('consumer and readAll should %s', async (_name, { write, end, all, committed }) => {
    const names = uniqueNames('aborted', kind);
    const client = testClient(names.run, kind);
    const admin = client.admin();
    const topic = names.topics.input;
    try {
      await admin.createTopics([{ topic, partitions: 1 }]);
      await write(topic);
      // The markers are written just after abort() returns: wait until the partition is stable.
      await waitFor('every record and marker', async () => (await admin.endOffsets(topic)).get(0) === end, 10_000);
      // What a read_uncommitted reader sees proves the aborted records are in the log.
      expect(values(await admin.readAll(topic, { readCommitted: false }))).toEqual(all);
      expect(values(await admin.readAll(topic, { readCommitted: true }))).toEqual(committed);
      expect(values(await consumeAll(client, names.groupId, topic, end))).toEqual(committed);
    } finally {
      await admin.close();
    }
  });
});

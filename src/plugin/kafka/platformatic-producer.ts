import { Admin, FindCoordinatorKeyTypes, murmur2, ProduceAcks, Producer, type Consumer, type Message } from '@platformatic/kafka';
import { GateError } from '../core/errors.js';
import type { KafkaLogger } from './kafkajs-support.js';
import { parseOffset } from './offsets.js';
import { fetchKey, hasApiId, keyBuffer, toKafkaGateError, toMessage } from './platformatic-support.js';
import type { OutRecord, ProducerPort, TransactionOffsets } from './port.js';
import { TransactionLanes, confirmOwnership } from './transaction-lanes.js';

export interface PlatformaticConnection {
  clientId: string;
  brokers: string[];
  connectionTimeoutMs?: number;
}

/**
 * One idempotent producer, replaced after a failed send, as with kafkajs: a fresh producer id
 * keeps a later batch from reusing the sequence numbers of a write that may have landed.
 */
class Slot {
  readonly #make: () => Producer;
  #producer?: Producer;

  constructor(make: () => Producer) {
    this.#make = make;
  }

  get(): Producer {
    this.#producer ??= this.#make();
    return this.#producer;
  }

  discard(p: Producer): void {
    if (this.#producer === p) this.#producer = undefined;
    p.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const p = this.#producer;
    this.#producer = undefined;
    await p?.close();
  }
}

export class PlatformaticProducer implements ProducerPort {
  protected readonly conn: PlatformaticConnection;
  protected readonly logger?: KafkaLogger;
  protected closed = false;
  readonly #slot: Slot;
  /** Per partition (fetchKey), the send in flight there (settled either way). */
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #roundRobin = new Map<string, number>();

  constructor(conn: PlatformaticConnection, logger?: KafkaLogger) {
    this.conn = conn;
    this.logger = logger;
    this.#slot = new Slot(() => this.make());
  }

  async connect(): Promise<void> {
    this.assertOpen();
    const p = this.#slot.get();
    try {
      await p.metadata({ topics: [] });
    } catch (err) {
      this.#slot.discard(p);
      throw toKafkaGateError(err, 'KAFKA_NETWORK', 'producer could not connect');
    }
  }

  /**
   * One produce request in flight per partition. platformatic (1.35) numbers an idempotent
   * producer's batches from the sequence of the last *acknowledged* one, so two sends in flight at
   * once to a partition carry the same sequence numbers, and the broker refuses the later one with
   * OUT_OF_ORDER_SEQUENCE_NUMBER (found by the crash integrity test: the gate sends the chunks of
   * several partitions at once). Records are placed on their partition here, as platformatic
   * would place them (murmur2 of the key; round-robin without a key), so that a send waits only
   * for the sends in flight on its own partitions: one lock for the whole producer halved the
   * gate's throughput (one acks=all round trip at a time). Sends are not merged: two chunks that
   * each fit the topic's max.message.bytes could exceed it together.
   */
  async send(records: OutRecord[]): Promise<void> {
    this.assertOpen();
    if (records.length === 0) return;
    const placed = await this.#place(records).catch((err: unknown) => { throw toKafkaGateError(err, 'KAFKA_NETWORK', `send of ${records.length} records failed: no metadata`); });
    const keys = [...new Set(placed.map((r) => fetchKey(r.topic, r.partition)))];
    const before = keys.map((k) => this.#inFlight.get(k));
    const run = Promise.all(before).then(() => this.#send(placed));
    const settled = run.then(() => undefined, () => undefined);
    for (const k of keys) this.#inFlight.set(k, settled);
    void settled.then(() => { for (const k of keys) if (this.#inFlight.get(k) === settled) this.#inFlight.delete(k); });
    return run;
  }

  /** Each record with its partition: as given, else murmur2 of the key as platformatic's default partitioner, else round-robin per topic. */
  async #place(records: OutRecord[]): Promise<(OutRecord & { partition: number })[]> {
    if (records.every((r) => r.partition !== undefined)) return records as (OutRecord & { partition: number })[];
    const topics = [...new Set(records.filter((r) => r.partition === undefined).map((r) => r.topic))];
    const metadata = await this.#slot.get().metadata({ topics });
    return records.map((r) => {
      if (r.partition !== undefined) return r as OutRecord & { partition: number };
      const count = metadata.topics.get(r.topic)?.partitionsCount ?? 1;
      const key = keyBuffer(r);
      const next = this.#roundRobin.get(r.topic) ?? 0;
      if (!key) this.#roundRobin.set(r.topic, next + 1);
      return { ...r, partition: (key ? murmur2(key) >>> 0 : next) % count };
    });
  }

  async #send(records: OutRecord[]): Promise<void> {
    const p = this.#slot.get();
    try {
      await p.send({ messages: records.map(toMessage) });
    } catch (err) {
      this.#slot.discard(p);
      throw toKafkaGateError(err, 'KAFKA_PRODUCE', `send of ${records.length} records failed`);
    }
  }

  async disconnect(): Promise<void> {
    this.closed = true;
    await Promise.all(this.#inFlight.values());
    await this.#slot.close();
  }

  protected make(transactionalId?: string): Producer {
    return new Producer({
      clientId: this.conn.clientId,
      bootstrapBrokers: this.conn.brokers,
      connectTimeout: this.conn.connectionTimeoutMs ?? 3000,
      idempotent: true,
      acks: ProduceAcks.ALL,
      transactionalId,
      // "No producer yet" for InitProducerId (KIP-360): platformatic's default 0/0 claims producer 0,
      // which a Kafka 4 broker answers with PRODUCER_FENCED for a transactional id it has not seen.
      ...(transactionalId !== undefined ? { producerId: -1n, producerEpoch: -1 } : {}),
      autocreateTopics: false,
      retries: 5,
    });
  }

  protected assertOpen(): void {
    if (this.closed) throw new GateError('KAFKA_PRODUCE', 'producer is disconnected', { canRetry: false });
  }
}

/**
 * One transactional id per input partition, as with kafkajs: the offsets go through
 * TxnOffsetCommit without the consumer's generation (generation -1, no member id), so the
 * transactional id is what fences a zombie; `offsets.confirm()` is asked before the producer is
 * touched and right before the commit (see kafkajs-producer.ts for the reasoning).
 */
export class PlatformaticTransactionalProducer extends PlatformaticProducer {
  readonly #lanes: TransactionLanes<Slot>;
  readonly #coordinators = new Map<string, number>();
  #admin?: Admin;

  constructor(conn: PlatformaticConnection, transactionalIdPrefix: string, logger?: KafkaLogger) {
    super(conn, logger);
    this.#lanes = new TransactionLanes(transactionalIdPrefix, (id) => new Slot(() => this.make(id)));
  }

  sendInTransaction(records: OutRecord[], offsets: TransactionOffsets): Promise<void> {
    this.assertOpen();
    parseOffset(offsets.offset);
    return this.#lanes.run(offsets, (slot) => this.#transact(slot, records, offsets));
  }

  override async disconnect(): Promise<void> {
    await super.disconnect();
    await this.#lanes.close();
    await this.#admin?.close();
  }

  async #coordinator(groupId: string): Promise<number> {
    const known = this.#coordinators.get(groupId);
    if (known !== undefined) return known;
    this.#admin ??= new Admin({ clientId: this.conn.clientId, bootstrapBrokers: this.conn.brokers, connectTimeout: this.conn.connectionTimeoutMs ?? 3000, retries: 5 });
    const [found] = await this.#admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [groupId] });
    this.#coordinators.set(groupId, found.nodeId);
    return found.nodeId;
  }

  async #transact(slot: Slot, records: OutRecord[], offsets: TransactionOffsets): Promise<void> {
    const confirm = confirmOwnership(offsets);
    await confirm();
    const producer = slot.get();
    let txn;
    try {
      const coordinatorId = await this.#coordinator(offsets.groupId);
      txn = await producer.beginTransaction();
      if (records.length > 0) await txn.send({ messages: records.map(toMessage) });
      // addConsumer reads only the group id; addOffset reads topic, partition, offset and the group's coordinator.
      await txn.addConsumer({ groupId: offsets.groupId } as unknown as Consumer);
      const consumer = { groupId: offsets.groupId, generationId: -1, memberId: '', coordinatorId };
      await txn.addOffset({ topic: offsets.topic, partition: offsets.partition, offset: BigInt(offsets.offset), metadata: { consumer } } as unknown as Message);
      await confirm();
      await txn.commit();
    } catch (err) {
      if (hasApiId(err, 'NOT_COORDINATOR') || hasApiId(err, 'COORDINATOR_NOT_AVAILABLE')) this.#coordinators.delete(offsets.groupId);
      if (txn && !txn.completed) await txn.abort().catch((abortErr: unknown) => this.logger?.warn({ component: 'kafka', err: abortErr }, 'transaction abort failed'));
      slot.discard(producer);
      throw toKafkaGateError(err, 'KAFKA_PRODUCE', `transaction for ${offsets.topic}[${offsets.partition}] failed`);
    }
  }
}

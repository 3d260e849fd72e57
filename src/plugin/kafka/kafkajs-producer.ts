import type { Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { Partitioners } from './kafkajs-lib.js';
import { GateError } from '../core/errors.js';
import { toKafkaGateError, type KafkaLogger } from './kafkajs-support.js';
import { parseOffset } from './offsets.js';
import type { OutRecord, ProducerPort, TransactionOffsets } from './port.js';
import { TransactionLanes, confirmOwnership } from './transaction-lanes.js';

function topicMessages(records: OutRecord[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ key: r.key, value: r.value, headers: r.headers, partition: r.partition });
    byTopic.set(r.topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * One idempotent kafkajs producer, replaced after a failed send: kafkajs rolls its sequence
 * numbers back when it gives up, so the next batch could reuse them and the broker would take it
 * for a duplicate of a write that did land. A new producer gets a new producer id instead.
 */
class Slot {
  readonly #make: () => Producer;
  readonly #logger?: KafkaLogger;
  #producer?: Producer;
  #ready?: Promise<Producer>;

  constructor(make: () => Producer, logger?: KafkaLogger) {
    this.#make = make;
    this.#logger = logger;
  }

  get(): Promise<Producer> {
    if (!this.#ready) {
      const producer = (this.#producer = this.#make());
      this.#ready = producer.connect().then(
        () => producer,
        (err: unknown) => {
          if (this.#producer === producer) this.#clear();
          throw toKafkaGateError(err, 'KAFKA_NETWORK', 'producer could not connect');
        },
      );
    }
    return this.#ready;
  }

  /** Synchronous, so a send right after a failure already gets a fresh producer. */
  discard(producer: Producer): void {
    if (this.#producer === producer) this.#clear();
    producer.disconnect().catch((err: unknown) => this.#logger?.debug({ component: 'kafka', err }, 'disconnect of a discarded producer failed'));
  }

  async close(): Promise<void> {
    const ready = this.#ready;
    this.#clear();
    const producer = await ready?.catch(() => undefined);
    await producer?.disconnect();
  }

  #clear(): void {
    this.#producer = undefined;
    this.#ready = undefined;
  }
}

export class KafkajsProducer implements ProducerPort {
  protected readonly kafka: Kafka;
  protected readonly logger?: KafkaLogger;
  protected closed = false;
  readonly #slot: Slot;

  constructor(kafka: Kafka, logger?: KafkaLogger) {
    this.kafka = kafka;
    this.logger = logger;
    this.#slot = new Slot(() => this.make(), logger);
  }

  async connect(): Promise<void> {
    this.assertOpen();
    await this.#slot.get();
  }

  async send(records: OutRecord[]): Promise<void> {
    this.assertOpen();
    if (records.length === 0) return;
    const producer = await this.#slot.get();
    try {
      await producer.sendBatch({ topicMessages: topicMessages(records), acks: -1 });
    } catch (err) {
      this.#slot.discard(producer);
      throw toKafkaGateError(err, 'KAFKA_PRODUCE', `send of ${records.length} records failed`);
    }
  }

  async disconnect(): Promise<void> {
    this.closed = true;
    await this.#slot.close();
  }

  protected make(transactionalId?: string): Producer {
    return this.kafka.producer({
      idempotent: true,
      // Ordering under retries: kafkajs serialises idempotent produce requests per broker anyway.
      maxInFlightRequests: 1,
      transactionalId,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded, so a dead broker surfaces as an error the gate can act on instead of a hang.
      retry: { retries: 5, maxRetryTime: 5000 },
    });
  }

  protected assertOpen(): void {
    if (this.closed) throw new GateError('KAFKA_PRODUCE', 'producer is disconnected', { canRetry: false });
  }
}

/**
 * Transactions need one transactional id per input partition with kafkajs (it lacks KIP-447's
 * group-metadata fencing): a new owner of the partition initialises the same id, which fences the
 * old owner's producer and aborts its open transaction. The old owner must then never initialise
 * the id again on its own (it would fence the new owner and commit its stale work): a fenced
 * producer is dropped, and a new one is made only after `offsets.confirm()` says the caller holds
 * the partition, which it asks again right before each commit.
 */
export class KafkajsTransactionalProducer extends KafkajsProducer {
  readonly #lanes: TransactionLanes<Slot>;

  constructor(kafka: Kafka, transactionalIdPrefix: string, logger?: KafkaLogger) {
    super(kafka, logger);
    this.#lanes = new TransactionLanes(transactionalIdPrefix, (id) => new Slot(() => this.make(id), this.logger));
  }

  /** transactionalId = prefix + input topic + '-' + input partition. */
  sendInTransaction(records: OutRecord[], offsets: TransactionOffsets): Promise<void> {
    this.assertOpen();
    const next = parseOffset(offsets.offset) + 1n;
    // kafkajs allows one open transaction per producer: calls for one input partition queue up.
    return this.#lanes.run(offsets, (slot) => this.#transact(slot, records, offsets, String(next)));
  }

  override async disconnect(): Promise<void> {
    await super.disconnect();
    await this.#lanes.close();
  }

  async #transact(slot: Slot, records: OutRecord[], offsets: TransactionOffsets, next: string): Promise<void> {
    const confirm = confirmOwnership(offsets);
    await confirm();
    const producer = await slot.get();
    let txn;
    try {
      txn = await producer.transaction();
      if (records.length > 0) await txn.sendBatch({ topicMessages: topicMessages(records), acks: -1 });
      await txn.sendOffsets({ consumerGroupId: offsets.groupId, topics: [{ topic: offsets.topic, partitions: [{ partition: offsets.partition, offset: next }] }] });
      await confirm();
      await txn.commit();
    } catch (err) {
      await txn?.abort().catch((abortErr: unknown) => this.logger?.warn({ component: 'kafka', err: abortErr }, 'transaction abort failed'));
      slot.discard(producer);
      throw toKafkaGateError(err, 'KAFKA_PRODUCE', `transaction for ${offsets.topic}[${offsets.partition}] failed`);
    }
  }
}

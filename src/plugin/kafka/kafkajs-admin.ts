import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { GateError } from '../core/errors.js';
import { ConfigResourceTypes } from './kafkajs-lib.js';
import { toKafkaGateError, toKafkaRecord, type KafkaLogger } from './kafkajs-support.js';
import type { AdminPort, KafkaRecord } from './port.js';

const CREATE_TOPICS_PATIENCE_MS = 15_000;
const TOPIC_RESOURCE = ConfigResourceTypes.TOPIC;

export class KafkajsAdmin implements AdminPort {
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  readonly #logger?: KafkaLogger;
  #connected?: Promise<void>;

  constructor(kafka: Kafka, logger?: KafkaLogger) {
    this.#kafka = kafka;
    this.#admin = kafka.admin();
    this.#logger = logger;
  }

  /**
   * kafkajs waits for the new topics' leaders but gives up when the metadata says
   * UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers for a moment after creating a topic
   * while its metadata cache catches up (seen on a broker that had just started, under load).
   * Creating again is idempotent, so that answer is retried for a while.
   */
  async createTopics(topics: { topic: string; partitions: number }[]): Promise<void> {
    const deadline = performance.now() + CREATE_TOPICS_PATIENCE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#call('createTopics', (a) =>
          a.createTopics({ topics: topics.map((t) => ({ topic: t.topic, numPartitions: t.partitions })), waitForLeaders: true }),
        );
        return;
      } catch (err) {
        const notYetKnown = err instanceof GateError && err.details?.type === 'UNKNOWN_TOPIC_OR_PARTITION';
        if (!notYetKnown || performance.now() > deadline) throw err;
        this.#logger?.debug({ component: 'kafka', attempt, topics: topics.map((t) => t.topic) }, 'new topics not yet in the metadata; creating again');
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
      }
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    const res = await this.#call('fetchOffsets', (a) => a.fetchOffsets({ groupId, topics: [topic] }));
    const out = new Map<number, string>();
    for (const { partition, offset } of res.find((t) => t.topic === topic)?.partitions ?? []) {
      if (BigInt(offset) >= 0n) out.set(partition, offset);
    }
    return out;
  }

  /** kafkajs lists offsets with isolation read_committed, so `high` is the last stable offset. */
  async endOffsets(topic: string): Promise<Map<number, string>> {
    const res = await this.#call('fetchTopicOffsets', (a) => a.fetchTopicOffsets(topic));
    return new Map(res.map((p) => [p.partition, p.high]));
  }

  /**
   * Reads with a throw-away consumer group (kafkajs cannot consume without one) that commits
   * nothing and is deleted afterwards. A partition is done when the consumer's position passed
   * the end offset, which counts transaction markers and aborted records it skipped.
   */
  async readAll(topic: string, opts: { readCommitted?: boolean; timeoutMs?: number } = {}): Promise<KafkaRecord[]> {
    const offsets = await this.#call('fetchTopicOffsets', (a) => a.fetchTopicOffsets(topic));
    const end = new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
    const pending = new Set(offsets.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => p.partition));
    if (pending.size === 0) return [];

    const groupId = `diffiqa-readall-${randomUUID()}`;
    const consumer = this.#kafka.consumer({ groupId, readUncommitted: opts.readCommitted === false, maxWaitTimeInMs: 200, sessionTimeout: 10_000 });
    const records: KafkaRecord[] = [];
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (BigInt(payload.lastOffset) + 1n >= (end.get(payload.partition) ?? 0n)) pending.delete(payload.partition);
      if (pending.size === 0) finish();
    });
    const timeoutMs = opts.timeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const limit = end.get(batch.partition) ?? 0n;
          for (const m of batch.messages) {
            if (BigInt(m.offset) >= limit) break;
            records.push(toKafkaRecord(topic, batch.partition, m));
          }
        },
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GateError('KAFKA_NETWORK', `readAll(${topic}) did not reach the end offsets within ${timeoutMs} ms`, { details: { pending: [...pending] } })), timeoutMs);
      });
      await Promise.race([done, timeout]);
    } catch (err) {
      throw toKafkaGateError(err, 'KAFKA_NETWORK', `readAll(${topic}) failed`);
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
      await this.#admin.deleteGroups([groupId]).catch((err: unknown) => this.#logger?.debug({ component: 'kafka', err, groupId }, 'could not delete readAll group'));
    }
    return records.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  }

  /** From the metadata of all topics: asking for the one topic could auto-create it. */
  async partitionCount(topic: string): Promise<number> {
    const { topics } = await this.#call('fetchTopicMetadata', (a) => a.fetchTopicMetadata());
    return topics.find((t) => t.name === topic)?.partitions.length ?? 0;
  }

  async maxMessageBytes(topic: string): Promise<number> {
    const res = await this.#call('describeConfigs', (a) => a.describeConfigs({
      resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ['max.message.bytes'] }], includeSynonyms: false,
    }));
    const value = Number(res.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
    if (!Number.isSafeInteger(value) || value <= 0) throw new GateError('KAFKA_NETWORK', `topic ${topic} has no readable max.message.bytes`, { canRetry: false });
    return value;
  }

  async close(): Promise<void> {
    const connected = this.#connected;
    this.#connected = undefined;
    if (connected) await this.#admin.disconnect();
  }

  async #call<T>(what: string, fn: (a: Admin) => Promise<T>): Promise<T> {
    this.#connected ??= this.#admin.connect().catch((err: unknown) => {
      this.#connected = undefined;
      throw err;
    });
    try {
      await this.#connected;
      return await fn(this.#admin);
    } catch (err) {
      throw toKafkaGateError(err, 'KAFKA_NETWORK', `admin ${what} failed`);
    }
  }
}


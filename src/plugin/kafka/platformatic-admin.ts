import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, ConfigResourceTypes, Consumer, FetchIsolationLevels, ListOffsetTimestamps } from '@platformatic/kafka';
import { GateError } from '../core/errors.js';
import type { KafkaLogger } from './kafkajs-support.js';
import type { PlatformaticConnection } from './platformatic-producer.js';
import { fetchKey, fetchRound, hasApiId, toKafkaGateError } from './platformatic-support.js';
import type { AdminPort, KafkaRecord } from './port.js';

const CREATE_TOPICS_PATIENCE_MS = 15_000;
const READ_RETRY_MS = 250;

export class PlatformaticAdmin implements AdminPort {
  readonly #conn: PlatformaticConnection;
  readonly #admin: Admin;
  readonly #logger?: KafkaLogger;

  constructor(conn: PlatformaticConnection, logger?: KafkaLogger) {
    this.#conn = conn;
    this.#logger = logger;
    this.#admin = new Admin({ clientId: conn.clientId, bootstrapBrokers: conn.brokers, connectTimeout: conn.connectionTimeoutMs ?? 3000, retries: 5 });
  }

  /** Waits until every new partition has a leader in the metadata, so a send right after finds it. */
  async createTopics(topics: { topic: string; partitions: number }[]): Promise<void> {
    for (const { topic, partitions } of topics) {
      try {
        await this.#admin.createTopics({ topics: [topic], partitions, replicas: 1 });
      } catch (err) {
        if (!hasApiId(err, 'TOPIC_ALREADY_EXISTS')) throw toKafkaGateError(err, 'KAFKA_NETWORK', `admin createTopics(${topic}) failed`);
      }
    }
    const deadline = performance.now() + CREATE_TOPICS_PATIENCE_MS;
    for (const { topic } of topics) {
      for (;;) {
        const md = await this.#admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined);
        if (md?.topics.get(topic)?.partitions.every((p) => p.leader >= 0)) break;
        if (performance.now() > deadline) throw new GateError('KAFKA_NETWORK', `topic ${topic} has no leaders after ${CREATE_TOPICS_PATIENCE_MS} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    const res = await this.#call('listConsumerGroupOffsets', () => this.#admin.listConsumerGroupOffsets({ groups: [groupId] }));
    const out = new Map<number, string>();
    for (const p of res.find((g) => g.groupId === groupId)?.topics.find((t) => t.name === topic)?.partitions ?? []) {
      if (p.committedOffset >= 0n) out.set(p.partitionIndex, String(p.committedOffset));
    }
    return out;
  }

  /** Listed read_committed: the last stable offset, as with kafkajs. */
  async endOffsets(topic: string): Promise<Map<number, string>> {
    return new Map([...(await this.#offsets(topic, ListOffsetTimestamps.LATEST))].map(([p, o]) => [p, String(o)]));
  }

  /** Fetches each partition from the earliest offset up to the end offsets at call time, without a consumer group. */
  async readAll(topic: string, opts: { readCommitted?: boolean; timeoutMs?: number } = {}): Promise<KafkaRecord[]> {
    const end = await this.#offsets(topic, ListOffsetTimestamps.LATEST);
    const start = await this.#offsets(topic, ListOffsetTimestamps.EARLIEST);
    const pos = new Map([...start].filter(([p, o]) => o < (end.get(p) ?? 0n)));
    const records: KafkaRecord[] = [];
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const until = performance.now() + timeoutMs;
    const reader = new Consumer({ clientId: this.#conn.clientId, bootstrapBrokers: this.#conn.brokers, groupId: `diffiqa-readall-${randomUUID()}`, connectTimeout: this.#conn.connectionTimeoutMs ?? 3000, retries: 5 });
    try {
      while (pos.size > 0) {
        if (performance.now() > until) throw new GateError('KAFKA_NETWORK', `readAll(${topic}) did not reach the end offsets within ${timeoutMs} ms`, { details: { pending: [...pos.keys()] } });
        let got;
        try {
          got = await fetchRound(reader, [...pos].map(([partition, offset]) => ({ topic, partition, offset })), { maxWaitMs: 200, readCommitted: opts.readCommitted !== false });
        } catch (err) {
          // A moved leader or a broker coming back: asked again with fresh metadata until the deadline.
          if (!toKafkaGateError(err, 'KAFKA_NETWORK', 'fetch').canRetry || performance.now() + READ_RETRY_MS > until) throw err;
          reader.clearMetadata();
          await sleep(READ_RETRY_MS);
          continue;
        }
        for (const [partition, offset] of [...pos]) {
          const f = got.get(fetchKey(topic, partition));
          if (!f) continue;
          const limit = end.get(partition) ?? 0n;
          for (const r of f.records) if (BigInt(r.offset) < limit) records.push(r);
          if (f.next >= limit) pos.delete(partition);
          else if (f.next > offset) pos.set(partition, f.next);
        }
      }
    } catch (err) {
      throw toKafkaGateError(err, 'KAFKA_NETWORK', `readAll(${topic}) failed`);
    } finally {
      await reader.close().catch(() => undefined);
    }
    return records.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  }

  async partitionCount(topic: string): Promise<number> {
    const names = await this.#call('listTopics', () => this.#admin.listTopics());
    if (!names.includes(topic)) return 0;
    const md = await this.#call('metadata', () => this.#admin.metadata({ topics: [topic], autocreateTopics: false }));
    return md.topics.get(topic)?.partitionsCount ?? 0;
  }

  async maxMessageBytes(topic: string): Promise<number> {
    const res = await this.#call('describeConfigs', () => this.#admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['max.message.bytes'] }],
    }));
    const value = Number(res[0]?.configs.find((c) => c.name === 'max.message.bytes')?.value);
    if (!Number.isSafeInteger(value) || value <= 0) throw new GateError('KAFKA_NETWORK', `topic ${topic} has no readable max.message.bytes`, { canRetry: false });
    return value;
  }

  async close(): Promise<void> {
    await this.#admin.close().catch((err: unknown) => this.#logger?.debug({ component: 'kafka', err }, 'admin close failed'));
  }

  async #offsets(topic: string, timestamp: bigint): Promise<Map<number, bigint>> {
    const md = await this.#call('metadata', () => this.#admin.metadata({ topics: [topic], autocreateTopics: false }));
    const count = md.topics.get(topic)?.partitionsCount ?? 0;
    const res = await this.#call('listOffsets', () => this.#admin.listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp })) }],
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    }));
    return new Map((res.find((t) => t.name === topic)?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toKafkaGateError(err, 'KAFKA_NETWORK', `admin ${what} failed`);
    }
  }
}

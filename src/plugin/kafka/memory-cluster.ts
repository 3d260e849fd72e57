import { GateError } from '../core/errors.js';
import type { KafkaRecord, OutRecord, TopicPartition } from './port.js';

export interface MemoryClientOptions {
  /** Partitions of a topic created by its first use, like the local broker's `num.partitions`. */
  defaultPartitions?: number;
  /** Like the broker's `message.max.bytes`: a bigger record fails the whole send. */
  maxMessageBytes?: number;
  /** Most records handed to one handler call. */
  maxBatchRecords?: number;
  /** Wait before a partition whose handler threw is fetched again. */
  retryBackoffMs?: number;
}

/** `fence`: the next commit or heartbeat meets a group-membership error, as when the coordinator
 *  fenced the member (kafkajs: a rebalance in progress; the adapter's commit then answers false).
 *  Its batches go stale (isActive false) but the member keeps its partitions and its fetch
 *  positions, as kafkajs does when it rejoins with the same assignment. */
export type FaultOp = 'send' | 'transaction' | 'commit' | 'fence';

interface StoredRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  timestamp: string;
}

/** What a group member must offer its group: the group assigns, the member follows. */
export interface GroupMember {
  readonly topics: readonly string[];
  assign(tps: TopicPartition[]): void;
  wake(): void;
}

export class MemoryGroup {
  readonly committed = new Map<string, number>();
  /** Partitions with a handler running somewhere: a new owner waits for it, as Kafka's rebalance waits for the old owner. */
  readonly busy = new Set<string>();
  readonly #members: GroupMember[] = [];
  readonly #cluster: MemoryCluster;

  constructor(cluster: MemoryCluster) {
    this.#cluster = cluster;
  }

  join(member: GroupMember): void {
    this.#members.push(member);
    this.#rebalance();
  }

  leave(member: GroupMember): void {
    const i = this.#members.indexOf(member);
    if (i >= 0) this.#members.splice(i, 1);
    this.#rebalance();
  }

  wakeAll(): void {
    for (const m of this.#members) m.wake();
  }

  /** Round robin over all subscribed partitions in (topic, partition) order, like kafkajs's assigner. */
  #rebalance(): void {
    const topics = [...new Set(this.#members.flatMap((m) => m.topics))].sort();
    const next = new Map<GroupMember, TopicPartition[]>(this.#members.map((m) => [m, []]));
    let turn = 0;
    for (const topic of topics) {
      const takers = this.#members.filter((m) => m.topics.includes(topic));
      const count = this.#cluster.partitions(topic).length;
      for (let partition = 0; partition < count; partition++) {
        next.get(takers[turn++ % takers.length])!.push({ topic, partition });
      }
    }
    for (const [member, tps] of next) member.assign(tps);
  }
}

/** The shared state behind every client of one `createMemoryClient()`: topics, groups, faults. */
export class MemoryCluster {
  readonly options: Required<MemoryClientOptions>;
  readonly #topics = new Map<string, StoredRecord[][]>();
  readonly #groups = new Map<string, MemoryGroup>();
  readonly #listeners = new Set<() => void>();
  readonly #faults = new Map<FaultOp, number>();
  readonly #spread = new Map<string, number>();

  constructor(options: MemoryClientOptions = {}) {
    this.options = {
      defaultPartitions: options.defaultPartitions ?? 3,
      maxMessageBytes: options.maxMessageBytes ?? 10 * 1024 * 1024,
      maxBatchRecords: options.maxBatchRecords ?? 100,
      retryBackoffMs: options.retryBackoffMs ?? 100,
    };
  }

  createTopic(topic: string, partitions: number): void {
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new GateError('CONFIG_INVALID', `topic ${topic}: partitions must be a positive integer, got ${partitions}`);
    }
    if (!this.#topics.has(topic)) this.#topics.set(topic, Array.from({ length: partitions }, () => []));
  }

  hasTopic(topic: string): boolean {
    return this.#topics.has(topic);
  }

  /** The partitions of a topic, auto-created on first use like on the local broker. */
  partitions(topic: string): StoredRecord[][] {
    if (!this.#topics.has(topic)) this.createTopic(topic, this.options.defaultPartitions);
    return this.#topics.get(topic)!;
  }

  group(groupId: string): MemoryGroup {
    let g = this.#groups.get(groupId);
    if (!g) this.#groups.set(groupId, (g = new MemoryGroup(this)));
    return g;
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  failNext(op: FaultOp, times: number): void {
    this.#faults.set(op, (this.#faults.get(op) ?? 0) + times);
  }

  faultsLeft(op: FaultOp): number {
    return this.#faults.get(op) ?? 0;
  }

  /** True, once per injected fault, when one for `op` is pending. */
  takeFault(op: FaultOp): boolean {
    const left = this.faultsLeft(op);
    if (left <= 0) return false;
    this.#faults.set(op, left - 1);
    return true;
  }

  /** Throws the injected fault for `op`, if one is pending. */
  checkFault(op: FaultOp): void {
    if (!this.takeFault(op)) return;
    const code = op === 'commit' ? 'KAFKA_NETWORK' : 'KAFKA_PRODUCE';
    throw new GateError(code, `injected ${op} fault (memory Kafka)`, { details: { injected: true } });
  }

  /** All or nothing: every record is checked before any is appended; `alsoAtomically` runs in the same step. */
  append(records: OutRecord[], alsoAtomically?: () => void): void {
    const placed = records.map((r) => ({ r, partition: this.#choosePartition(r), stored: this.#store(r) }));
    for (const { r, partition, stored } of placed) this.partitions(r.topic)[partition].push(stored);
    alsoAtomically?.();
    for (const l of this.#listeners) l();
  }

  read(topic: string, partition: number, from: number, max: number): KafkaRecord[] {
    return this.partitions(topic)[partition].slice(from, from + max).map((s, i) => ({
      topic,
      partition,
      offset: String(from + i),
      key: s.key && Buffer.from(s.key),
      value: s.value && Buffer.from(s.value),
      headers: Object.fromEntries(Object.entries(s.headers).map(([k, v]) => [k, Buffer.from(v)])),
      timestamp: s.timestamp,
    }));
  }

  #choosePartition(r: OutRecord): number {
    const count = this.partitions(r.topic).length;
    if (r.partition !== undefined) {
      if (!Number.isInteger(r.partition) || r.partition < 0 || r.partition >= count) {
        throw new GateError('KAFKA_PRODUCE', `topic ${r.topic} has no partition ${r.partition}`, { canRetry: false });
      }
      return r.partition;
    }
    if (r.key === null) {
      const n = this.#spread.get(r.topic) ?? 0;
      this.#spread.set(r.topic, n + 1);
      return n % count;
    }
    return fnv1a(typeof r.key === 'string' ? Buffer.from(r.key) : r.key) % count;
  }

  #store(r: OutRecord): StoredRecord {
    const key = r.key === null ? null : Buffer.from(r.key);
    const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, Buffer.from(v)]));
    const size = (key?.length ?? 0) + r.value.length + Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length, 0);
    if (size > this.options.maxMessageBytes) {
      throw new GateError('KAFKA_TOO_LARGE', `record of ${size} bytes exceeds max message size ${this.options.maxMessageBytes}`);
    }
    return { key, value: Buffer.from(r.value), headers, timestamp: String(Date.now()) };
  }
}

export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

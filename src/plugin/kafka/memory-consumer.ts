import { GateError } from '../core/errors.js';
import type { MemoryCluster, MemoryGroup, GroupMember } from './memory-cluster.js';
import { offsetInBatch, tpKey } from './offsets.js';
import type { ConsumerOptions, ConsumerPort, KafkaRecord, PartitionBatch, RebalanceEvent, TopicPartition } from './port.js';

type Handler = (batch: PartitionBatch) => Promise<void>;

class MemoryBatch implements PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: KafkaRecord[];
  returned = false;
  readonly #owner: MemoryConsumer;
  readonly #key: string;
  readonly #epoch: number;
  #committed = -1n;

  constructor(owner: MemoryConsumer, tp: TopicPartition, records: KafkaRecord[], epoch: number) {
    this.topic = tp.topic;
    this.partition = tp.partition;
    this.records = records;
    this.#owner = owner;
    this.#key = tpKey(tp.topic, tp.partition);
    this.#epoch = epoch;
  }

  isActive(): boolean {
    return this.#owner.isCurrent(this.#key, this.#epoch);
  }

  advance(offset: string): void {
    const n = this.#check(offset);
    if (this.isActive()) this.#owner.moveTo(this.#key, Number(n) + 1);
  }

  async commit(offset: string): Promise<boolean> {
    const n = this.#check(offset);
    await Promise.resolve();
    this.#owner.cluster.checkFault('commit');
    // As the kafkajs adapter answers a group-membership error: the batch is void, the commit did not happen.
    if (this.#owner.cluster.takeFault('fence')) {
      this.#owner.fence(this.#key);
      return false;
    }
    // A running handler still blocks the partition's next owner, so its commit cannot overtake anyone.
    if (this.returned && !this.#owner.owns(this.#key)) return false;
    if (n > this.#committed) {
      this.#committed = n;
      this.#owner.group.committed.set(this.#key, Number(n) + 1);
    }
    this.advance(offset);
    return true;
  }

  async heartbeat(): Promise<void> {
    // kafkajs's heartbeat meets the same group-membership error as a commit; the adapter fences.
    if (this.#owner.cluster.takeFault('fence')) this.#owner.fence(this.#key);
  }

  #check(offset: string): bigint {
    return offsetInBatch(offset, this.records[0].offset, this.records[this.records.length - 1].offset);
  }
}

/**
 * A group member over the memory cluster. Unlike kafkajs's eager protocol, a rebalance revokes
 * only the partitions that move; the new owner starts after the old owner's handler returned.
 */
let holds = 0;

export class MemoryConsumer implements ConsumerPort, GroupMember {
  readonly cluster: MemoryCluster;
  readonly group: MemoryGroup;
  topics: string[] = [];
  #fromBeginning = false;
  #handler?: Handler;
  #concurrency = 1;
  #assignment: TopicPartition[] = [];
  readonly #positions = new Map<string, number>();
  readonly #paused = new Set<string>();
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #notBefore = new Map<string, number>();
  readonly #epochs = new Map<string, number>();
  /** ownership() tokens: a new one each time a partition is assigned (its position then starts from the committed offset). */
  readonly #held = new Map<string, number>();
  readonly #rebalanceCbs: ((e: RebalanceEvent) => void)[] = [];
  #running = false;
  #stopping?: Promise<void>;
  #unlisten?: () => void;
  #wakeScheduled = false;
  #turn = 0;

  constructor(cluster: MemoryCluster, opts: ConsumerOptions) {
    this.cluster = cluster;
    this.group = cluster.group(opts.groupId);
  }

  async subscribe(topics: string[], opts: { fromBeginning?: boolean } = {}): Promise<void> {
    if (this.#running || this.#stopping) throw new GateError('USAGE', 'subscribe() must come before run()');
    for (const t of topics) this.cluster.partitions(t);
    this.topics = [...new Set([...this.topics, ...topics])];
    this.#fromBeginning = opts.fromBeginning ?? false;
  }

  async run(handler: Handler, opts: { concurrency: number }): Promise<void> {
    if (this.#running || this.#stopping) throw new GateError('USAGE', 'run() was already called on this consumer');
    if (this.topics.length === 0) throw new GateError('USAGE', 'subscribe() to at least one topic before run()');
    this.#handler = handler;
    this.#concurrency = Math.max(1, Math.floor(opts.concurrency));
    this.#running = true;
    this.#unlisten = this.cluster.onAppend(() => this.wake());
    this.group.join(this);
  }

  pause(tps: TopicPartition[]): void {
    for (const { topic, partition } of tps) this.#paused.add(tpKey(topic, partition));
  }

  resume(tps: TopicPartition[]): void {
    for (const { topic, partition } of tps) this.#paused.delete(tpKey(topic, partition));
    this.wake();
  }

  assignment(): TopicPartition[] {
    return this.#assignment.map((tp) => ({ ...tp }));
  }

  ownership(topic: string, partition: number): number | undefined {
    const k = tpKey(topic, partition);
    return this.owns(k) ? this.#held.get(k) : undefined;
  }

  async confirmOwnership(topic: string, partition: number): Promise<number | undefined> {
    return this.ownership(topic, partition);
  }

  onRebalance(cb: (e: RebalanceEvent) => void): void {
    this.#rebalanceCbs.push(cb);
  }

  /** The memory consumer never crashes; kept for the port. */
  onCrash(_cb: (err: Error, restarting: boolean) => void): void {}

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  disconnect(): Promise<void> {
    return this.stop();
  }

  // --- called by the group and by batches ---

  assign(next: TopicPartition[]): void {
    const after = new Set(next.map((tp) => tpKey(tp.topic, tp.partition)));
    const before = new Set(this.#assignment.map((tp) => tpKey(tp.topic, tp.partition)));
    const revoked = this.#assignment.filter((tp) => !after.has(tpKey(tp.topic, tp.partition)));
    const assigned = next.filter((tp) => !before.has(tpKey(tp.topic, tp.partition)));
    for (const tp of revoked) {
      const k = tpKey(tp.topic, tp.partition);
      this.#epochs.set(k, (this.#epochs.get(k) ?? 0) + 1);
      this.#positions.delete(k);
      this.#held.delete(k);
    }
    for (const tp of assigned) this.#held.set(tpKey(tp.topic, tp.partition), ++holds);
    this.#assignment = next;
    if (revoked.length || assigned.length) this.#emit({ assigned, revoked });
    this.wake();
  }

  wake(): void {
    if (this.#wakeScheduled || !this.#running) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      this.#pump();
    });
  }

  isCurrent(key: string, epoch: number): boolean {
    return this.#running && (this.#epochs.get(key) ?? 0) === epoch;
  }

  /** Makes the partition's batches stale without moving the partition or its position (the `fence` fault). */
  fence(key: string): void {
    this.#epochs.set(key, (this.#epochs.get(key) ?? 0) + 1);
  }

  owns(key: string): boolean {
    return this.#running && this.#assignment.some((tp) => tpKey(tp.topic, tp.partition) === key);
  }

  moveTo(key: string, position: number): void {
    if ((this.#positions.get(key) ?? -1) < position) this.#positions.set(key, position);
  }

  // --- internals ---

  #pump(): void {
    const n = this.#assignment.length;
    const start = this.#turn++;
    for (let i = 0; i < n && this.#running && this.#inflight.size < this.#concurrency; i++) {
      const tp = this.#assignment[(start + i) % n];
      const k = tpKey(tp.topic, tp.partition);
      if (this.#paused.has(k) || this.#inflight.has(k) || this.group.busy.has(k)) continue;
      if ((this.#notBefore.get(k) ?? 0) > Date.now()) continue;
      const log = this.cluster.partitions(tp.topic)[tp.partition];
      let pos = this.#positions.get(k);
      if (pos === undefined) {
        pos = this.group.committed.get(k) ?? (this.#fromBeginning ? 0 : log.length);
        this.#positions.set(k, pos);
      }
      if (pos >= log.length) continue;
      this.#deliver(tp, k, this.cluster.read(tp.topic, tp.partition, pos, this.cluster.options.maxBatchRecords));
    }
  }

  #deliver(tp: TopicPartition, k: string, records: KafkaRecord[]): void {
    const batch = new MemoryBatch(this, tp, records, this.#epochs.get(k) ?? 0);
    this.group.busy.add(k);
    const done = (async () => {
      try {
        await this.#handler!(batch);
      } catch {
        const backoff = this.cluster.options.retryBackoffMs;
        this.#notBefore.set(k, Date.now() + backoff);
        setTimeout(() => this.wake(), backoff + 1).unref();
      } finally {
        batch.returned = true;
        this.#inflight.delete(k);
        this.group.busy.delete(k);
        this.group.wakeAll();
      }
    })();
    this.#inflight.set(k, done);
  }

  async #stop(): Promise<void> {
    const wasRunning = this.#running;
    this.#running = false;
    this.#unlisten?.();
    await Promise.all(this.#inflight.values());
    if (!wasRunning) return;
    this.group.leave(this);
    const revoked = this.#assignment;
    this.#assignment = [];
    this.#positions.clear();
    if (revoked.length) this.#emit({ assigned: [], revoked });
  }

  #emit(e: RebalanceEvent): void {
    for (const cb of this.#rebalanceCbs) cb({ assigned: e.assigned.map((tp) => ({ ...tp })), revoked: e.revoked.map((tp) => ({ ...tp })) });
  }
}

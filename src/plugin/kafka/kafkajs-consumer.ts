import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { GateError } from '../core/errors.js';
import { isGroupMembershipError, isOutOfGeneration, toKafkaGateError, toKafkaRecord, type KafkaLogger } from './kafkajs-support.js';
import { offsetInBatch, tpKey } from './offsets.js';
import type { ConsumerOptions, ConsumerPort, KafkaRecord, PartitionBatch, RebalanceEvent, TopicPartition } from './port.js';

type Handler = (batch: PartitionBatch) => Promise<void>;

/**
 * Thrown into kafkajs in place of a handler's error. kafkajs retries a fetch round whose handler
 * threw (refetching from the resolved offsets) and restarts the consumer after too many tries,
 * but only for errors it believes retriable: a TypeError from the handler would kill the consumer.
 * The original is kept under `handlerError`, not `cause`, because kafkajs judges the root cause.
 */
class HandlerFailed extends Error {
  readonly retriable = true;
  readonly handlerError: unknown;
  constructor(err: unknown) {
    super(`partition handler failed: ${err instanceof Error ? err.message : String(err)}`);
    this.name = 'GateHandlerFailed';
    this.handlerError = err;
  }
}

class KafkajsBatch implements PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: KafkaRecord[];
  returned = false;
  readonly #owner: KafkajsConsumer;
  readonly #p: EachBatchPayload;
  readonly #epoch: number;
  #resolved = -1n;
  #committed = -1n;

  constructor(owner: KafkajsConsumer, p: EachBatchPayload, epoch: number) {
    this.topic = p.batch.topic;
    this.partition = p.batch.partition;
    this.records = p.batch.messages.map((m) => toKafkaRecord(this.topic, this.partition, m));
    this.#owner = owner;
    this.#p = p;
    this.#epoch = epoch;
  }

  isActive(): boolean {
    return this.#owner.epoch === this.#epoch && this.#p.isRunning() && !this.#p.isStale();
  }

  advance(offset: string): void {
    const n = this.#check(offset);
    if (n <= this.#resolved || !this.isActive()) return;
    this.#resolved = n;
    // kafkajs moves past trailing transaction markers itself when the batch's last record is resolved.
    this.#p.resolveOffset(offset);
  }

  async commit(offset: string): Promise<boolean> {
    const n = this.#check(offset);
    // After the handler returned and the group gave the partition away, a commit could only
    // overwrite the new owner's progress.
    if (this.returned && !this.#owner.owns(this.topic, this.partition)) return false;
    this.advance(offset);
    if (n <= this.#committed) return true;
    const last = this.records[this.records.length - 1].offset;
    // Past a trailing transaction marker too, so a restart does not fetch an empty batch first.
    const next = offset === last ? BigInt(this.#p.batch.lastOffset()) + 1n : n + 1n;
    try {
      await this.#p.commitOffsetsIfNecessary({ topics: [{ topic: this.topic, partitions: [{ partition: this.partition, offset: String(next) }] }] });
    } catch (err) {
      if (isGroupMembershipError(err)) {
        this.#owner.fence(err);
        return false;
      }
      throw toKafkaGateError(err, 'KAFKA_NETWORK', `offset commit of ${this.topic}[${this.partition}] failed`);
    }
    this.#committed = n;
    return true;
  }

  async heartbeat(): Promise<void> {
    try {
      await this.#p.heartbeat();
    } catch (err) {
      // kafkajs's own heartbeat after the handler sees the same error and rejoins the group.
      if (isGroupMembershipError(err)) this.#owner.fence(err);
    }
  }

  #check(offset: string): bigint {
    return offsetInBatch(offset, this.records[0].offset, this.records[this.records.length - 1].offset);
  }
}

export interface KafkajsConsumerOptions extends ConsumerOptions {
  /** Longest wait of a fetch for new records; also bounds how long stop() waits for an idle fetch. */
  maxWaitTimeMs?: number;
  /** How long run() waits for the first group join, kafkajs's restarts included (default 30 s). */
  joinTimeoutMs?: number;
}

/**
 * kafkajs's consumer behind the port. Positions move only through resolveOffset (commit/advance),
 * commits go to the group immediately, and "revoked" is tracked with an epoch that changes on
 * every membership change: kafkajs rebalances eagerly and has no revoke callback.
 */
export class KafkajsConsumer implements ConsumerPort {
  epoch = 0;
  readonly #consumer: Consumer;
  readonly #logger?: KafkaLogger;
  readonly #heartbeatMs: number;
  readonly #joinTimeoutMs: number;
  #assignment: TopicPartition[] = [];
  readonly #paused = new Map<string, TopicPartition>();
  readonly #rebalanceCbs: ((e: RebalanceEvent) => void)[] = [];
  readonly #crashCbs: ((err: Error, restarting: boolean) => void)[] = [];
  #connected?: Promise<void>;
  #started = false;
  #stopping?: Promise<void>;
  /** Group joins so far: the ownership() token (kafkajs starts every partition from its committed offset at a join). */
  #joins = 0;
  /** In the generation of the last join, as far as the member knows (false from a rebalance or fence until the next join). */
  #member = false;
  /** When a heartbeat (or the join) last succeeded, Date.now(). */
  #lastBeat = 0;
  /** A heartbeat through kafkajs's consumer group (from the latest batch; kafkajs skips it within the interval of the last one). */
  #beat?: () => Promise<void>;

  constructor(kafka: Kafka, opts: KafkajsConsumerOptions, logger?: KafkaLogger) {
    const sessionTimeout = opts.sessionTimeoutMs ?? 30_000;
    this.#heartbeatMs = Math.min(3000, Math.floor(sessionTimeout / 3));
    this.#logger = logger;
    this.#joinTimeoutMs = opts.joinTimeoutMs ?? 30_000;
    this.#consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout,
      heartbeatInterval: this.#heartbeatMs,
      readUncommitted: opts.readCommitted === false,
      maxWaitTimeInMs: opts.maxWaitTimeMs ?? 1000,
      retry: { retries: 5 },
    });
    const { GROUP_JOIN, CRASH, HEARTBEAT, REBALANCING } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, (e) => this.#joined(e.payload.memberAssignment));
    this.#consumer.on(CRASH, (e) => this.#crashed(e.payload.error, e.payload.restart));
    this.#consumer.on(HEARTBEAT, () => { this.#lastBeat = Date.now(); });
    this.#consumer.on(REBALANCING, () => { this.#member = false; });
  }

  async subscribe(topics: string[], opts: { fromBeginning?: boolean } = {}): Promise<void> {
    await this.#connect();
    try {
      await this.#consumer.subscribe({ topics, fromBeginning: opts.fromBeginning ?? false });
    } catch (err) {
      throw toKafkaGateError(err, 'KAFKA_NETWORK', `subscribe to ${topics.join(', ')} failed`);
    }
  }

  async run(handler: Handler, opts: { concurrency: number }): Promise<void> {
    if (this.#started || this.#stopping) throw new GateError('USAGE', 'run() was already called on this consumer');
    this.#started = true;
    await this.#connect();
    // kafkajs resolves run() even when the first join failed: it reports a crash and restarts
    // the consumer (e.g. while a fresh broker's coordinator is still loading). Wait for the join.
    const { GROUP_JOIN, CRASH } = this.#consumer.events;
    let timer: NodeJS.Timeout | undefined;
    const offs: (() => void)[] = [];
    const joined = new Promise<void>((resolve, reject) => {
      offs.push(this.#consumer.on(GROUP_JOIN, () => resolve()));
      offs.push(this.#consumer.on(CRASH, (e) => e.payload.restart || reject(e.payload.error)));
      timer = setTimeout(() => reject(new GateError('KAFKA_NETWORK', `consumer did not join its group within ${this.#joinTimeoutMs} ms`)), this.#joinTimeoutMs);
    });
    joined.catch(() => undefined);
    try {
      await this.#consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: Math.max(1, Math.floor(opts.concurrency)),
        eachBatch: (p) => this.#eachBatch(p, handler),
      });
      await joined;
    } catch (err) {
      await this.stop();
      throw toKafkaGateError(err, 'KAFKA_NETWORK', 'consumer could not join its group');
    } finally {
      clearTimeout(timer);
      for (const off of offs) off();
    }
  }

  pause(tps: TopicPartition[]): void {
    for (const tp of tps) this.#paused.set(tpKey(tp.topic, tp.partition), { ...tp });
    this.#applyPauses('pause', tps);
  }

  resume(tps: TopicPartition[]): void {
    for (const tp of tps) this.#paused.delete(tpKey(tp.topic, tp.partition));
    this.#applyPauses('resume', tps);
  }

  assignment(): TopicPartition[] {
    return this.#assignment.map((tp) => ({ ...tp }));
  }

  ownership(topic: string, partition: number): number | undefined {
    return this.#member && this.owns(topic, partition) ? this.#joins : undefined;
  }

  async confirmOwnership(topic: string, partition: number): Promise<number | undefined> {
    if (this.ownership(topic, partition) === undefined) return undefined;
    if (Date.now() - this.#lastBeat >= this.#heartbeatMs) {
      try {
        await this.#beat?.();
      } catch (err) {
        if (isOutOfGeneration(err)) {
          this.fence(err);
          return undefined;
        }
        throw toKafkaGateError(err, 'KAFKA_NETWORK', 'the group coordinator could not confirm this member');
      }
      // kafkajs skips a heartbeat within the interval of its last success, or while it has no member
      // id: the coordinator dropped the member and kafkajs is joining again (UNKNOWN_MEMBER_ID).
      if (Date.now() - this.#lastBeat >= this.#heartbeatMs) {
        this.fence();
        return undefined;
      }
    }
    return this.ownership(topic, partition);
  }

  onRebalance(cb: (e: RebalanceEvent) => void): void {
    this.#rebalanceCbs.push(cb);
  }

  onCrash(cb: (err: Error, restarting: boolean) => void): void {
    this.#crashCbs.push(cb);
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.epoch++;
      try {
        await this.#consumer.stop();
      } finally {
        this.#setAssignment([]);
      }
    })();
    return this.#stopping;
  }

  async disconnect(): Promise<void> {
    await this.stop();
    await this.#consumer.disconnect();
  }

  owns(topic: string, partition: number): boolean {
    return !this.#stopping && this.#assignment.some((tp) => tp.topic === topic && tp.partition === partition);
  }

  /**
   * The group is rebalancing or dropped this member: every batch in flight is void. Out of its
   * generation (not for a moved coordinator), the member holds no partition until it joins again.
   */
  fence(err?: unknown): void {
    this.epoch++;
    if (err === undefined || isOutOfGeneration(err)) this.#member = false;
  }

  async #eachBatch(p: EachBatchPayload, handler: Handler): Promise<void> {
    // Fetched before pause(): leave it unresolved so it is fetched again after resume().
    if (this.#paused.has(tpKey(p.batch.topic, p.batch.partition)) || p.batch.messages.length === 0) return;
    const batch = new KafkajsBatch(this, p, this.epoch);
    this.#beat = p.heartbeat;
    const beat = setInterval(() => void batch.heartbeat(), this.#heartbeatMs);
    try {
      await handler(batch);
    } catch (err) {
      this.#logger?.warn({ component: 'kafka', topic: batch.topic, partition: batch.partition, err }, 'partition handler failed; its uncommitted records will be fetched again');
      throw new HandlerFailed(err);
    } finally {
      clearInterval(beat);
      batch.returned = true;
    }
  }

  #connect(): Promise<void> {
    this.#connected ??= this.#consumer.connect().catch((err: unknown) => {
      this.#connected = undefined;
      throw toKafkaGateError(err, 'KAFKA_NETWORK', 'consumer could not connect');
    });
    return this.#connected;
  }

  #applyPauses(op: 'pause' | 'resume', tps: TopicPartition[]): void {
    if (!this.#started || this.#stopping || tps.length === 0) return;
    const byTopic = new Map<string, number[]>();
    for (const tp of tps) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
    try {
      this.#consumer[op]([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
    } catch {
      // Not running yet (or restarting after a crash): #joined applies the pauses.
    }
  }

  #joined(memberAssignment: Record<string, number[]>): void {
    this.epoch++;
    this.#joins++;
    this.#member = true;
    this.#lastBeat = Date.now();
    this.#setAssignment(Object.entries(memberAssignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition }))));
    // A restart after a crash builds a new kafkajs group state without our pauses.
    this.#applyPauses('pause', [...this.#paused.values()]);
  }

  #crashed(error: Error, restart: boolean): void {
    this.epoch++;
    this.#member = false;
    this.#setAssignment([]);
    for (const cb of this.#crashCbs) cb(toKafkaGateError(error, 'KAFKA_NETWORK', 'consumer crashed'), restart);
  }

  #setAssignment(next: TopicPartition[]): void {
    const before = new Set(this.#assignment.map((tp) => tpKey(tp.topic, tp.partition)));
    const after = new Set(next.map((tp) => tpKey(tp.topic, tp.partition)));
    const revoked = this.#assignment.filter((tp) => !after.has(tpKey(tp.topic, tp.partition)));
    const assigned = next.filter((tp) => !before.has(tpKey(tp.topic, tp.partition)));
    this.#assignment = next;
    if (revoked.length === 0 && assigned.length === 0) return;
    for (const cb of this.#rebalanceCbs) cb({ assigned: assigned.map((tp) => ({ ...tp })), revoked: revoked.map((tp) => ({ ...tp })) });
  }
}

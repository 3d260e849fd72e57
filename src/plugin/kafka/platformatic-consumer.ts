import { Consumer, ListOffsetTimestamps } from '@platformatic/kafka';
import { GateError } from '../core/errors.js';
import { commitInGeneration, fetchKey, fetchRound, isOutOfGeneration, toKafkaGateError, type FetchedPartition } from './platformatic-support.js';
import type { KafkaLogger } from './kafkajs-support.js';
import { offsetInBatch } from './offsets.js';
import type { ConsumerOptions, ConsumerPort, KafkaRecord, PartitionBatch, RebalanceEvent, TopicPartition } from './port.js';

type Handler = (batch: PartitionBatch) => Promise<void>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** After a handler threw, its partition waits this long before it is fetched again. */
const RETRY_BACKOFF_MS = 300;

class PlatformaticBatch implements PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: KafkaRecord[];
  returned = false;
  /** The offset the consumer moves to when the handler returns; undefined: the batch's start again. */
  resolvedNext?: bigint;
  readonly joins: number;
  /** The group generation and member id the records were fetched in: the commit is refused under any other. */
  readonly #member: { generationId: number; memberId: string };
  readonly #owner: PlatformaticConsumer;
  readonly #epoch: number;
  readonly #next: bigint;
  #resolved = -1n;
  #committed = -1n;

  constructor(owner: PlatformaticConsumer, topic: string, partition: number, fetched: FetchedPartition, epoch: number, joins: number, member: { generationId: number; memberId: string }) {
    this.#member = member;
    this.topic = topic;
    this.partition = partition;
    this.records = fetched.records;
    this.#next = fetched.next;
    this.#owner = owner;
    this.#epoch = epoch;
    this.joins = joins;
  }

  isActive(): boolean {
    return this.#owner.epoch === this.#epoch && !this.returned;
  }

  advance(offset: string): void {
    const n = this.#check(offset);
    if (n <= this.#resolved || !this.isActive()) return;
    this.#resolved = n;
    this.resolvedNext = this.#after(n);
  }

  async commit(offset: string): Promise<boolean> {
    const n = this.#check(offset);
    if (this.returned && !this.#owner.owns(this.topic, this.partition)) return false;
    if (this.#owner.joins !== this.joins) return false;
    this.advance(offset);
    if (n <= this.#committed) return true;
    const ok = await this.#owner.commitOffset(this.topic, this.partition, this.#after(n), this.#member);
    if (ok) this.#committed = n;
    return ok;
  }

  async heartbeat(): Promise<void> {
    // platformatic heartbeats on its own timer, independent of the handlers.
  }

  /** Past a trailing transaction marker too when `n` is the batch's last record. */
  #after(n: bigint): bigint {
    return n === BigInt(this.records[this.records.length - 1].offset) ? this.#next : n + 1n;
  }

  #check(offset: string): bigint {
    return offsetInBatch(offset, this.records[0].offset, this.records[this.records.length - 1].offset);
  }
}

export interface PlatformaticConsumerOptions extends ConsumerOptions {
  clientId: string;
  brokers: string[];
  maxWaitTimeMs?: number;
  connectionTimeoutMs?: number;
}

/**
 * @platformatic/kafka's consumer for the group protocol (join, sync, heartbeats, rejoin) and its
 * Fetch API; the fetch loop is the adapter's own, because the port moves a partition's position
 * only through commit()/advance() and pauses single partitions, which platformatic's
 * MessagesStream (one position per partition, advanced on fetch; pause for the whole stream) does not.
 * Rebalances: platformatic rejoins at once when a heartbeat answers REBALANCE_IN_PROGRESS (it does
 * not wait for running handlers); the 'rebalance' event voids every batch in flight and every join
 * starts each partition again from its committed offset (the ownership() token).
 */
export class PlatformaticConsumer implements ConsumerPort {
  epoch = 0;
  joins = 0;
  readonly #c: Consumer;
  readonly #opts: PlatformaticConsumerOptions;
  readonly #logger?: KafkaLogger;
  readonly #heartbeatMs: number;
  #topics: string[] = [];
  #fromBeginning = false;
  #assignment: TopicPartition[] = [];
  readonly #paused = new Set<string>();
  readonly #busy = new Set<string>();
  readonly #backoffUntil = new Map<string, number>();
  readonly #positions = new Map<string, bigint>();
  readonly #rebalanceCbs: ((e: RebalanceEvent) => void)[] = [];
  readonly #crashCbs: ((err: Error, restarting: boolean) => void)[] = [];
  readonly #running = new Set<Promise<void>>();
  #member = false;
  #generation = { generationId: -1, memberId: '' };
  #started = false;
  #stopping?: Promise<void>;
  #loop?: Promise<void>;
  #slots = 0;
  readonly #waiters: (() => void)[] = [];
  #concurrency = 1;

  constructor(opts: PlatformaticConsumerOptions, logger?: KafkaLogger) {
    const sessionTimeout = opts.sessionTimeoutMs ?? 30_000;
    this.#heartbeatMs = Math.min(3000, Math.floor(sessionTimeout / 3));
    this.#opts = opts;
    this.#logger = logger;
    this.#c = new Consumer({
      clientId: opts.clientId,
      bootstrapBrokers: opts.brokers,
      groupId: opts.groupId,
      sessionTimeout,
      rebalanceTimeout: Math.max(sessionTimeout, 10_000),
      heartbeatInterval: this.#heartbeatMs,
      autocommit: false,
      retries: 5,
      connectTimeout: opts.connectionTimeoutMs ?? 3000,
    });
    this.#c.on('consumer:group:join', (p) => this.#joined(p.assignments ?? []));
    this.#c.on('consumer:group:rebalance', () => {
      this.#logger?.info({ component: 'kafka', groupId: opts.groupId }, 'the group is rebalancing: batches in flight are void');
      this.fence();
    });
    this.#c.on('error', (err: Error) => {
      this.fence();
      for (const cb of this.#crashCbs) cb(toKafkaGateError(err, 'KAFKA_NETWORK', 'consumer failed'), !this.#stopping);
    });
  }

  async subscribe(topics: string[], opts: { fromBeginning?: boolean } = {}): Promise<void> {
    this.#topics = [...new Set([...this.#topics, ...topics])];
    this.#fromBeginning = opts.fromBeginning ?? false;
  }

  async run(handler: Handler, opts: { concurrency: number }): Promise<void> {
    if (this.#started || this.#stopping) throw new GateError('USAGE', 'run() was already called on this consumer');
    this.#started = true;
    this.#concurrency = Math.max(1, Math.floor(opts.concurrency));
    this.#c.topics.trackAll(...this.#topics);
    try {
      await this.#c.joinGroup({});
    } catch (err) {
      await this.stop();
      throw toKafkaGateError(err, 'KAFKA_NETWORK', 'consumer could not join its group');
    }
    this.#loop = this.#fetchLoop(handler);
  }

  pause(tps: TopicPartition[]): void {
    for (const tp of tps) this.#paused.add(fetchKey(tp.topic, tp.partition));
  }

  resume(tps: TopicPartition[]): void {
    for (const tp of tps) this.#paused.delete(fetchKey(tp.topic, tp.partition));
  }

  assignment(): TopicPartition[] {
    return this.#assignment.map((tp) => ({ ...tp }));
  }

  ownership(topic: string, partition: number): number | undefined {
    return this.#inGroup() && this.owns(topic, partition) ? this.joins : undefined;
  }

  /** Joined, and platformatic has not since learnt that the group dropped this member (a heartbeat's UNKNOWN_MEMBER_ID clears its member id before it rejoins, with no event). */
  #inGroup(): boolean {
    return this.#member && this.#c.memberId === this.#generation.memberId;
  }

  /** Waits for the next heartbeat answer unless one came within the interval. */
  async confirmOwnership(topic: string, partition: number): Promise<number | undefined> {
    const token = this.ownership(topic, partition);
    if (token === undefined) return undefined;
    const last = this.#c.lastHeartbeat?.getTime() ?? 0;
    if (Date.now() - last >= this.#heartbeatMs) {
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#c.off('consumer:heartbeat:end', onEnd);
          this.#c.off('consumer:heartbeat:error', onError);
          this.#c.off('consumer:group:rebalance', onEnd);
        };
        const onEnd = (): void => { done(); resolve(); };
        const onError = (p: { error: Error }): void => { done(); reject(toKafkaGateError(p.error, 'KAFKA_NETWORK', 'the group coordinator could not confirm this member')); };
        const timer = setTimeout(() => { done(); reject(new GateError('KAFKA_NETWORK', 'no heartbeat answer within two intervals')); }, 2 * this.#heartbeatMs + 1000);
        this.#c.on('consumer:heartbeat:end', onEnd);
        this.#c.on('consumer:heartbeat:error', onError);
        this.#c.on('consumer:group:rebalance', onEnd);
      });
    }
    return this.ownership(topic, partition) === token ? token : undefined;
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
      for (const w of this.#waiters.splice(0)) w();
      await this.#loop?.catch(() => undefined);
      await Promise.all([...this.#running]);
      try {
        if (this.#started) await this.#c.leaveGroup();
      } catch (err) {
        this.#logger?.debug({ component: 'kafka', err }, 'leaving the group failed');
      } finally {
        this.#member = false;
        this.#setAssignment([]);
      }
    })();
    return this.#stopping;
  }

  async disconnect(): Promise<void> {
    await this.stop();
    await this.#c.close();
  }

  owns(topic: string, partition: number): boolean {
    return !this.#stopping && this.#assignment.some((tp) => tp.topic === topic && tp.partition === partition);
  }

  fence(): void {
    this.epoch++;
    this.#member = false;
  }

  async commitOffset(topic: string, partition: number, next: bigint, member: { generationId: number; memberId: string }): Promise<boolean> {
    try {
      await commitInGeneration(this.#c, { groupId: this.#opts.groupId, ...member, topic, partition, offset: next });
      return true;
    } catch (err) {
      if (isOutOfGeneration(err)) {
        this.#logger?.info({ component: 'kafka', topic, partition, generationId: member.generationId }, 'offset commit refused: this member is out of its generation; the records are redone');
        // Only a refusal of the current generation ends the membership: a refusal of an older
        // one can arrive after the rejoin was handled, and fencing then would park the fetch loop
        // on partitions this member holds, with heartbeats going on and no rebalance to rescue it.
        if (member.generationId === this.#generation.generationId && member.memberId === this.#generation.memberId) this.fence();
        return false;
      }
      throw toKafkaGateError(err, 'KAFKA_NETWORK', `offset commit of ${topic}[${partition}] failed`);
    }
  }

  async #fetchLoop(handler: Handler): Promise<void> {
    const maxWaitMs = this.#opts.maxWaitTimeMs ?? 1000;
    while (!this.#stopping) {
      const joins = this.joins;
      try {
        const ready = this.#assignment.filter((tp) => {
          const k = fetchKey(tp.topic, tp.partition);
          return !this.#paused.has(k) && !this.#busy.has(k) && (this.#backoffUntil.get(k) ?? 0) <= Date.now();
        });
        if (!this.#inGroup() || ready.length === 0) {
          await sleep(20);
          continue;
        }
        await this.#resolvePositions(ready);
        if (joins !== this.joins || this.#stopping) continue;
        const wanted = ready.flatMap((tp) => {
          const offset = this.#positions.get(fetchKey(tp.topic, tp.partition));
          return offset === undefined ? [] : [{ ...tp, offset }];
        });
        const fetched = await fetchRound(this.#c, wanted, { maxWaitMs, readCommitted: this.#opts.readCommitted !== false });
        if (joins !== this.joins || this.#stopping) continue;
        for (const [k, got] of fetched) {
          const tp = wanted.find((w) => fetchKey(w.topic, w.partition) === k)!;
          if (got.records.length === 0) {
            if (got.next > tp.offset) this.#positions.set(k, got.next);
            continue;
          }
          this.#busy.add(k);
          const task = this.#deliver(handler, tp.topic, tp.partition, got, joins).finally(() => {
            this.#busy.delete(k);
            this.#running.delete(task);
          });
          this.#running.add(task);
        }
      } catch (err) {
        if (this.#stopping) break;
        this.#logger?.warn({ component: 'kafka', err }, 'fetch failed; trying again');
        this.#c.clearMetadata();
        await sleep(500);
      }
    }
  }

  async #deliver(handler: Handler, topic: string, partition: number, got: FetchedPartition, joins: number): Promise<void> {
    const k = fetchKey(topic, partition);
    await this.#acquire();
    try {
      // Paused or rebalanced while it waited for a slot: fetched again later from the same position.
      if (this.#stopping || joins !== this.joins || this.#paused.has(k) || !this.owns(topic, partition)) return;
      const batch = new PlatformaticBatch(this, topic, partition, got, this.epoch, joins, this.#generation);
      try {
        await handler(batch);
      } catch (err) {
        this.#logger?.warn({ component: 'kafka', topic, partition, err }, 'partition handler failed; its uncommitted records will be fetched again');
        this.#backoffUntil.set(k, Date.now() + RETRY_BACKOFF_MS);
      } finally {
        batch.returned = true;
        if (batch.resolvedNext !== undefined && joins === this.joins) this.#positions.set(k, batch.resolvedNext);
      }
    } finally {
      this.#release();
    }
  }

  async #acquire(): Promise<void> {
    while (this.#slots >= this.#concurrency && !this.#stopping) await new Promise<void>((r) => this.#waiters.push(r));
    this.#slots++;
  }

  #release(): void {
    this.#slots--;
    this.#waiters.shift()?.();
  }

  /** Committed offset, else the earliest or latest offset (`fromBeginning`). */
  async #resolvePositions(tps: TopicPartition[]): Promise<void> {
    const missing = tps.filter((tp) => !this.#positions.has(fetchKey(tp.topic, tp.partition)));
    if (missing.length === 0) return;
    const joins = this.joins;
    const byTopic = new Map<string, number[]>();
    for (const tp of missing) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
    const committed = await this.#c.listCommittedOffsets({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
    const fallback = await this.#c.listOffsets({ topics: [...byTopic.keys()], timestamp: this.#fromBeginning ? ListOffsetTimestamps.EARLIEST : ListOffsetTimestamps.LATEST });
    if (joins !== this.joins) return;
    for (const tp of missing) {
      const c = committed.get(tp.topic)?.[tp.partition] ?? -1n;
      const f = fallback.get(tp.topic)?.[tp.partition] ?? 0n;
      this.#positions.set(fetchKey(tp.topic, tp.partition), c >= 0n ? c : f);
    }
  }

  #joined(assignments: { topic: string; partitions: number[] }[]): void {
    this.epoch++;
    this.joins++;
    this.#member = true;
    this.#generation = { generationId: this.#c.generationId, memberId: this.#c.memberId ?? '' };
    this.#logger?.info({ component: 'kafka', groupId: this.#opts.groupId, ...this.#generation, assignment: assignments }, 'joined the group');
    this.#positions.clear();
    this.#setAssignment(assignments.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition }))));
  }

  #setAssignment(next: TopicPartition[]): void {
    const before = new Set(this.#assignment.map((tp) => fetchKey(tp.topic, tp.partition)));
    const after = new Set(next.map((tp) => fetchKey(tp.topic, tp.partition)));
    const revoked = this.#assignment.filter((tp) => !after.has(fetchKey(tp.topic, tp.partition)));
    const assigned = next.filter((tp) => !before.has(fetchKey(tp.topic, tp.partition)));
    this.#assignment = next;
    if (revoked.length === 0 && assigned.length === 0) return;
    for (const cb of this.#rebalanceCbs) cb({ assigned: assigned.map((tp) => ({ ...tp })), revoked: revoked.map((tp) => ({ ...tp })) });
  }
}

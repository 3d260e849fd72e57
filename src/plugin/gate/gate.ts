import { createChannel, subscribeTo } from '../core/diagnostic.js';
import { GateError, toGateError } from '../core/errors.js';
import { PEER_CLOSE_TIMEOUT_MS } from '../core/lifecycle.js';
import type { Frame } from '../core/frame.js';
import type { ConsumerPort, KafkaRecord, OutRecord, PartitionBatch, ProducerPort } from '../kafka/port.js';
import { tpKey } from '../kafka/offsets.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { frameFromRecord } from './frames.js';
import { Lane, type Chunk } from './lane.js';

export interface GateOptions {
  groupId: string;
  inputTopic: string;
  /** Records of one partition handed in and not yet committed; bounds duplicates after a crash too. */
  inFlightPerPartition: number;
  partitionsConcurrently: number;
  exactlyOnce: boolean;
  /** First wait before a failed publish or commit is tried again (doubling, at most 5 s). */
  retryBackoffMs?: number;
  /**
   * How long one publish or commit may keep failing with retriable errors before the gate gives
   * up and fails (exit 4): a partition never spins for good. Default 120 s.
   */
  retryBudgetMs?: number;
}

/** A group of chunks was published (their outcomes are final), before its offsets are committed. */
export interface GateChunkEvent { source: Gate; frames: Frame[]; records: OutRecord[] }
export interface GateCommitEvent { source: Gate; topic: string; partition: number; offset: string }
/** A publish or commit failed and will be tried again after `retryInMs`. */
export interface GateRetryEvent { source: Gate; topic: string; partition: number; error: GateError; retryInMs: number }
/** The broker refused a group's records for their size: they are built again with dead letters that leave the original message out. */
export interface GateCompactedEvent { source: Gate; topic: string; partition: number; error: GateError }
/**
 * Exactly-once: this member lost the partition (evicted, rebalanced, its transactional id fenced)
 * and dropped `records` handed in and not committed; their partition's next holder redoes them.
 */
export interface GateDisownedEvent { source: Gate; topic: string; partition: number; records: number }

/** What the gate publishes (see core/diagnostic.ts): telemetry, the apps' logs and tests subscribe. */
export const gateChannels = {
  chunk: createChannel<GateChunkEvent>('gate:chunk'),
  commit: createChannel<GateCommitEvent>('gate:commit'),
  retry: createChannel<GateRetryEvent>('gate:retry'),
  compacted: createChannel<GateCompactedEvent>('gate:compacted'),
  disowned: createChannel<GateDisownedEvent>('gate:disowned'),
};

/** Logs the gate's retries, compactions and lost partitions as warnings; returns the unsubscribe. */
export function logGateTrouble(gate: Gate, log: { warn(obj: object, msg: string): void }): () => void {
  const offs = [
    subscribeTo(gateChannels.retry, gate, ({ topic, partition, error, retryInMs }) => log.warn({ component: 'gate', topic, partition, code: error.code, err: error.message, retryInMs },
      'publish or commit failed; the partition\'s records stay uncommitted and are tried again')),
    subscribeTo(gateChannels.disowned, gate, ({ topic, partition, records }) => log.warn({ component: 'gate', topic, partition, records },
      'this member lost the partition: its uncommitted work is dropped and redone by the partition\'s holder')),
    subscribeTo(gateChannels.compacted, gate, ({ topic, partition, error }) => log.warn({ component: 'gate', topic, partition, code: error.code, err: error.message },
      'the broker refused the records as too large; dead letters are sent again without the original message')),
  ];
  return () => { for (const off of offs) off(); };
}

/**
 * Frames of a chunk → output records; the caller publishes them. `compact`: the broker refused
 * the records as too large, so dead letters must leave the original message out.
 */
export type OutputBuilder = (frames: Frame[], opts?: { compact?: boolean }) => Promise<OutRecord[]>;

/** One publish or commit, retried: its value, or why not — `err` undefined when it was given up (stopping, partition moved). */
type Attempt<T> = { ok: true; value: T } | { ok: false; err?: GateError };

const MAX_BACKOFF_MS = 5000;
const DEFAULT_RETRY_BUDGET_MS = 120_000;

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The consume → pipeline → publish → commit loop, pipelined per partition: a fetched batch is
 * handed to its partition's lane and the handler returns, so the next fetch overlaps the
 * scoring, publishing and committing of the last one (a frame no longer waits for the slowest
 * partition's publish and commit round before it is even fetched). The lane publishes and commits in
 * offset order. At-least-once: offsets are committed only after every record derived from them
 * is acknowledged; every record handed in is published (retried until it is, or the gate stops),
 * and a partition that moved is redone by its next owner from its committed offset. Exactly-once:
 * records and offsets go in one transaction per publish.
 */
export class Gate {
  readonly #consumer: ConsumerPort;
  readonly #producer: ProducerPort;
  readonly #pipeline: Pipeline;
  readonly #build: OutputBuilder;
  readonly #o: GateOptions;
  readonly #abort = new AbortController();
  readonly #lanes = new Map<string, Lane>();
  #stopped?: Promise<void>;
  #active = 0;
  #fatal?: GateError;
  readonly #failed: Promise<GateError>;
  #fail!: (err: GateError) => void;
  /**
   * `unfinished`: records handed in that were left without an outcome (stop or failure cut them short);
   * `disowned`: exactly-once records dropped because the partition left this member (redone by its holder).
   */
  readonly counts = { records: 0, published: 0, commits: 0, unfinished: 0, disowned: 0 };

  constructor(consumer: ConsumerPort, producer: ProducerPort, pipeline: Pipeline, build: OutputBuilder, opts: GateOptions) {
    this.#consumer = consumer;
    this.#producer = producer;
    this.#pipeline = pipeline;
    this.#build = build;
    this.#o = opts;
    this.#failed = new Promise((resolve) => { this.#fail = resolve; });
    if (opts.exactlyOnce && !producer.sendInTransaction) throw new GateError('CONFIG_INVALID', 'this Kafka client has no transactions');
  }

  get stopping(): boolean { return this.#abort.signal.aborted; }
  /**
   * Resolves when the gate cannot go on: a publish that can never succeed, or a retry budget spent.
   * Fetching has stopped and nothing past the failure is committed; the service should exit (4).
   */
  get failed(): Promise<GateError> { return this.#failed; }
  get activeBatches(): number { return this.#active; }
  /** Records handed to the pipeline and not yet committed or dropped, all partitions. */
  get inFlight(): number { return [...this.#lanes.values()].reduce((n, l) => n + l.inFlight, 0); }

  /** Connects and joins the group. On failure it lets go of Kafka again (bounded), so a failed start leaves nothing that holds the process. */
  async start(): Promise<void> {
    try {
      await this.#producer.connect();
      await this.#consumer.subscribe([this.#o.inputTopic], { fromBeginning: true });
      await this.#consumer.run((b) => this.#handle(b), { concurrency: this.#o.partitionsConcurrently });
    } catch (err) {
      await Promise.race([
        Promise.allSettled([this.#consumer.disconnect(), this.#producer.disconnect()]),
        new Promise((r) => setTimeout(r, PEER_CLOSE_TIMEOUT_MS).unref()),
      ]);
      throw err;
    }
  }

  pauseAll(): void { this.#consumer.pause(this.#consumer.assignment()); }
  resumeAll(): void { if (!this.stopping) this.#consumer.resume(this.#consumer.assignment()); }

  /** Hands the batch to its lane in chunks, as room allows, and returns. */
  async #handle(batch: PartitionBatch): Promise<void> {
    this.#active++;
    try {
      const key = tpKey(batch.topic, batch.partition);
      let lane = this.#lanes.get(key);
      if (!lane) this.#lanes.set(key, (lane = new Lane()));
      const limit = this.#o.inFlightPerPartition;
      // Half the window per chunk: one chunk's publish and commit overlap the next one's scoring.
      const chunkMax = Math.max(1, Math.ceil(limit / 2));
      // Exactly-once hands in only what it holds: work of a member out of its generation is dropped anyway.
      const cancelled = () => this.stopping || !batch.isActive() || (this.#o.exactlyOnce && this.#consumer.ownership(batch.topic, batch.partition) === undefined);
      const { records } = batch;
      for (let i = 0; i < records.length;) {
        const room = await lane.room(limit, cancelled);
        // Checked again: stop or a revocation may have come between room()'s answer and this turn.
        if (room === 0 || cancelled()) return;
        const chunk = records.slice(i, i + Math.min(room, chunkMax));
        i += chunk.length;
        // The next fetch starts after these; if they fail they are retried in the lane, and if the
        // partition moves, its next owner starts from the committed offset.
        batch.advance(chunk[chunk.length - 1].offset);
        this.#submit(lane, batch, chunk);
      }
    } finally {
      this.#active--;
    }
  }

  #submit(lane: Lane, batch: PartitionBatch, records: KafkaRecord[]): void {
    this.counts.records += records.length;
    const frames = records.map(frameFromRecord);
    const ownership = this.#consumer.ownership(batch.topic, batch.partition);
    lane.add({ batch, records, frames, done: this.#pipeline.run(frames, this.#abort.signal), settled: false, ownership });
    if (!lane.draining) lane.draining = this.#drain(lane);
  }

  /**
   * Publishes and commits the lane's chunks in order, as their pipelines finish; ends when the lane
   * is empty. Every chunk handed in is published, even after its partition moved: its offsets were
   * advanced at hand-off, and where the client keeps that position (a fenced commit without a reset),
   * a later commit of this lane would cover it. Published twice is allowed; skipped is not.
   */
  async #drain(lane: Lane): Promise<void> {
    for (;;) {
      if (lane.queue.length === 0) {
        lane.draining = undefined;
        return;
      }
      await lane.queue[0].done.catch(() => undefined);
      if (this.#o.exactlyOnce && this.#dropStale(lane)) continue;
      const group = lane.ready();
      if (!(await this.#publish(group))) {
        // Stopping or failed: nothing more is published or committed; the rest is redone after the restart.
        this.counts.unfinished += lane.inFlight;
        lane.release(lane.queue.length);
        lane.draining = undefined;
        return;
      }
      lane.release(group.length);
    }
  }

  /**
   * Exactly-once: chunks handed in under an ownership token the member no longer has leave the lane
   * unpublished. The token only changes when the client starts the partition again from its
   * committed offset, so those records come again (here or at the partition's new holder).
   */
  #dropStale(lane: Lane): boolean {
    const { topic, partition } = lane.queue[0].batch;
    const n = lane.staleHead(this.#consumer.ownership(topic, partition));
    if (n === 0) return false;
    this.#disowned(topic, partition, lane.release(n));
    return true;
  }

  #disowned(topic: string, partition: number, records: number): void {
    this.counts.disowned += records;
    gateChannels.disowned.publish({ source: this, topic, partition, records });
  }

  /** Publishes and commits a group of finished chunks. False when stopping cut it short; true also when a moved partition's transaction was given up. */
  async #publish(group: Chunk[]): Promise<boolean> {
    const frames = group.flatMap((c) => c.frames);
    // Shut down mid-chunk: leave it uncommitted so it is redone, not dead-lettered.
    if (this.stopping && frames.some((f) => f.error?.code === 'INFER_CLOSED')) return false;
    const last = group[group.length - 1];
    const { topic, partition } = last.batch;
    const offset = last.records[last.records.length - 1].offset;
    // At-least-once: retried until it succeeds, the retry budget is spent or the gate stops.
    // Exactly-once: given up once the member no longer holds the partition under the token the
    // chunks were handed in with (asked of the ownership token, not of the batch: a batch goes stale
    // in a rebalance that keeps the partition and its fetch position, and a chunk given up then
    // would be skipped by the next commit; the token changes only when the position starts again).
    const held = last.ownership;
    const giveUp = () => this.stopping || (this.#o.exactlyOnce && this.#consumer.ownership(topic, partition) !== held);
    // Asked by the transaction before it touches the producer and before it commits: a member
    // evicted while it worked (paused past its session) finds out here and commits nothing.
    const confirm = async () => (await this.#consumer.confirmOwnership(topic, partition)) === held;
    const send = (records: OutRecord[]) => this.#retry(topic, partition, async () => {
      if (this.#o.exactlyOnce) await this.#producer.sendInTransaction!(records, { groupId: this.#o.groupId, topic, partition, offset, confirm });
      else await this.#producer.send(records);
      return records;
    }, giveUp);
    let built = await this.#retry(topic, partition, () => this.#build(frames), giveUp);
    let sent = built.ok ? await send(built.value) : built;
    if (!sent.ok && sent.err?.code === 'KAFKA_TOO_LARGE') {
      // The same bytes never fit: dead letters without the original message do (size, sha256 and
      // source stay), so the partition moves on and every input still gets its outcome.
      gateChannels.compacted.publish({ source: this, topic, partition, error: sent.err });
      built = await this.#retry(topic, partition, () => this.#build(frames, { compact: true }), giveUp);
      sent = built.ok ? await send(built.value) : built;
    }
    if (!sent.ok && sent.err?.code === 'KAFKA_FENCED' && built.ok && (await confirm().catch(() => false))) {
      // Fenced, yet the coordinator says the partition is ours under the token it was handed in
      // with: the producer was fenced by the partition's holder while this member was away, and
      // the partition came back. A fresh producer (the adapter makes it only after confirm()) may
      // take the id again, once; fenced again means another producer uses it: the gate fails.
      sent = await send(built.value);
    }
    if (!sent.ok && this.#o.exactlyOnce && !this.stopping && (sent.err === undefined || (sent.err.code === 'KAFKA_FENCED' && !(await confirm().catch(() => true))))) {
      // The partition (and its transactional id) moved on: its holder redoes these records.
      this.#disowned(topic, partition, frames.length);
      return true;
    }
    if (!sent.ok) return this.#unpublished(sent.err);
    this.counts.published += sent.value.length;
    if (gateChannels.chunk.hasSubscribers) gateChannels.chunk.publish({ source: this, frames, records: sent.value });
    // false: the partition moved to another member, which redoes these records (at-least-once).
    // A commit that fails after the partition moved is left: the next commit covers these offsets.
    let committed = true;
    if (!this.#o.exactlyOnce) {
      const c = await this.#retry(topic, partition, () => last.batch.commit(offset), () => this.stopping || !last.batch.isActive());
      if (!c.ok && c.err) return this.#unpublished(c.err);
      committed = c.ok && c.value;
    }
    if (committed) {
      this.counts.commits++;
      if (gateChannels.commit.hasSubscribers) gateChannels.commit.publish({ source: this, topic, partition, offset });
    }
    await last.batch.heartbeat();
    return true;
  }

  /**
   * A group that could not be published or committed: false (the lane stops) unless it was given
   * up because its partition moved, which its new owner redoes. An error that no retry can mend
   * fails the gate.
   */
  #unpublished(err: GateError | undefined): boolean {
    if (err) this.#failGate(err);
    return !this.stopping;
  }

  #failGate(err: GateError): void {
    if (this.#fatal) return;
    this.#fatal = err;
    this.#abort.abort();
    for (const lane of this.#lanes.values()) lane.wake();
    this.#fail(err.code === 'GATE_FATAL' ? err : new GateError('GATE_FATAL', `the gate cannot go on: ${err.message}`, { cause: err, details: { code: err.code } }));
  }

  /**
   * Runs `op` until it succeeds, waiting a doubling back-off between tries, while its error says
   * `canRetry` and the retry budget lasts. `{ ok: false }` without error when `giveUp()` says so.
   */
  async #retry<T>(topic: string, partition: number, op: () => Promise<T>, giveUp: () => boolean): Promise<Attempt<T>> {
    const budget = this.#o.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
    const t0 = performance.now();
    let wait = this.#o.retryBackoffMs ?? 200;
    for (;;) {
      try {
        return { ok: true, value: await op() };
      } catch (e) {
        if (giveUp()) return { ok: false };
        const err = toGateError(e, 'KAFKA_NETWORK');
        if (!err.canRetry) return { ok: false, err };
        const spent = performance.now() - t0;
        if (spent + wait > budget) {
          return { ok: false, err: new GateError('GATE_FATAL', `${topic}[${partition}]: still failing after ${Math.round(spent)} ms of retries (budget ${budget} ms): ${err.message}`, { cause: err, details: { code: err.code } }) };
        }
        gateChannels.retry.publish({ source: this, topic, partition, error: err, retryInMs: wait });
        await sleep(wait, this.#abort.signal);
        if (giveUp()) return { ok: false };
        wait = Math.min(wait * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** Stops fetching, lets the chunks in the pipeline publish and commit, within the deadline. Idempotent.
   *  Resolves true when drained cleanly; false when the deadline cut it short, records were left
   *  without an outcome, or the gate had failed. */
  stop(deadlineMs: number): Promise<boolean> {
    const stopped = (this.#stopped ??= (async () => {
      this.#abort.abort();
      for (const lane of this.#lanes.values()) lane.wake();
      // While the consumer still owns its partitions, so that the last commits land.
      await Promise.all([...this.#lanes.values()].map((l) => l.draining));
      await this.#consumer.stop();
    })());
    const drained = stopped.then(() => this.counts.unfinished === 0 && !this.#fatal);
    return Promise.race([drained, new Promise<boolean>((r) => setTimeout(() => r(false), deadlineMs).unref())]);
  }
}

import { GateError } from '../core/errors.js';
import type { InferencePool, LoadedModel } from './pool.js';
import { facesFeed, type FacesFeed, type InputFeeds } from './types.js';

export interface BatcherOptions {
  modelId: string;
  inputName: string;
  /** Shape of one item without the batch axis, e.g. [3, 112, 112]. */
  itemShape: number[];
  maxBatch: number;
  /** How long the first queued item may wait for company before its batch runs anyway. */
  maxDelayMs: number;
  /** Items waiting (not yet running); submit() beyond this rejects with INFER_QUEUE_FULL. */
  maxQueue: number;
  /** Batches running at once; more than the pool's workers only adds queueing inside the pool. */
  maxConcurrent: number;
  /**
   * Set for image models: items are then aligned faces, uint8 HWC (itemShape [3, s, s] read as
   * [s, s, 3]), and the worker normalises them (FacesFeed). Without it items are float tensors.
   */
  faces?: Pick<FacesFeed, 'norm' | 'colorOrder'>;
}

type Input = Float32Array | Uint8Array;
/** An item's outputs, by output name, and the model that produced them (which version, across a swap). */
export interface ItemResult { outputs: Record<string, Float32Array>; model: LoadedModel }
interface Item { input: Input; at: number; resolve: (out: ItemResult) => void; reject: (e: Error) => void }

export interface BatcherStats { submitted: number; rejected: number; batches: number; items: number; lastBatchSize: number }

/**
 * Micro-batcher in front of the pool, modelled on OpenTelemetry's BatchSpanProcessorBase:
 * bounded queue, size- or delay-triggered flush, counted rejections, idempotent close().
 * Frames from all partitions share it, so batches fill across partitions.
 */
export class MicroBatcher {
  readonly #pool: InferencePool;
  readonly #o: BatcherOptions;
  readonly #queue: Item[] = [];
  readonly #itemSize: number;
  /** Cancels the pending delayed flush (a timer, or an immediate when the delay is up already). */
  #timer?: () => void;
  #running = 0;
  #closed?: Promise<void>;
  readonly #idle = new Set<() => void>();
  readonly stats: BatcherStats = { submitted: 0, rejected: 0, batches: 0, items: 0, lastBatchSize: 0 };
  readonly #drainListeners = new Set<() => void>();

  constructor(pool: InferencePool, opts: BatcherOptions) {
    this.#pool = pool;
    this.#o = opts;
    this.#itemSize = opts.itemShape.reduce((a, b) => a * b, 1);
  }

  /** Calls `listener` after each batch (backpressure resumes paused partitions there); returns its removal. */
  onDrain(listener: () => void): () => void {
    this.#drainListeners.add(listener);
    return () => { this.#drainListeners.delete(listener); };
  }

  get queueDepth(): number { return this.#queue.length; }
  get inFlight(): number { return this.#running; }
  /** True when a caller should stop feeding (pause its sources). */
  get saturated(): boolean { return this.#queue.length >= this.#o.maxQueue; }

  /** One item: a uint8 HWC face when the batcher packs faces, else a float tensor item. */
  async submit(input: Input): Promise<Record<string, Float32Array>> {
    return (await this.submitWith(input)).outputs;
  }

  /** As submit(), with the model that ran the item. */
  submitWith(input: Input): Promise<ItemResult> {
    if (this.#closed) return Promise.reject(new GateError('INFER_CLOSED', `batcher for ${this.#o.modelId} is closed`));
    if (input.length !== this.#itemSize) return Promise.reject(new GateError('INTERNAL', `input has ${input.length} values, expected ${this.#itemSize}`));
    if ((input instanceof Uint8Array) !== Boolean(this.#o.faces)) {
      return Promise.reject(new GateError('INTERNAL', `${this.#o.modelId} takes ${this.#o.faces ? 'uint8 faces' : 'float32 items'}`));
    }
    if (this.#queue.length >= this.#o.maxQueue) {
      this.stats.rejected++;
      return Promise.reject(new GateError('INFER_QUEUE_FULL', `inference queue for ${this.#o.modelId} is full (${this.#o.maxQueue})`));
    }
    this.stats.submitted++;
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, at: performance.now(), resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running >= this.#o.maxConcurrent) return;
    if (this.#queue.length >= this.#o.maxBatch || (this.#closing && this.#queue.length > 0)) {
      this.#flushOne();
    } else if (this.#queue.length > 0 && !this.#timer) {
      // The delay counts from the oldest item's arrival: items that queued while a batch ran
      // have waited already, and go as soon as the worker is free once their delay is up.
      const wait = this.#queue[0].at + this.#o.maxDelayMs - performance.now();
      const fire = () => { this.#timer = undefined; this.#flushOne(); };
      // With no delay left, flush after this turn of the event loop, so that the items submitted in
      // it share the batch; setTimeout(0) would hold them at least 1 ms more.
      if (wait <= 0) {
        const h = setImmediate(fire);
        this.#timer = () => clearImmediate(h);
      } else {
        const h = setTimeout(fire, wait);
        this.#timer = () => clearTimeout(h);
      }
    }
  }

  #closing = false;

  #flushOne(): void {
    if (this.#timer) { this.#timer(); this.#timer = undefined; }
    if (this.#queue.length === 0 || this.#running >= this.#o.maxConcurrent) return;
    const items = this.#queue.splice(0, this.#o.maxBatch);
    this.#running++;
    void this.#runBatch(items).finally(() => {
      this.#running--;
      this.#schedule();
      for (const fn of this.#drainListeners) fn();
      if (this.#running === 0 && this.#queue.length === 0) for (const f of this.#idle) f();
    });
  }

  /** The batch as the pool takes it; the buffer is transferred to the worker, so it is new per batch. */
  #feeds(items: Item[]): InputFeeds {
    const faces = this.#o.faces;
    // itemShape is [3, h, w] for faces, read as h×w HWC crops.
    const [, h, w] = this.#o.itemShape;
    if (faces) return { [this.#o.inputName]: facesFeed(items.map((it) => it.input as Uint8Array), [h, w], faces) };
    const data = new Float32Array(items.length * this.#itemSize);
    items.forEach((it, i) => data.set(it.input, i * this.#itemSize));
    return { [this.#o.inputName]: { type: 'float32', data, dims: [items.length, ...this.#o.itemShape] } };
  }

  async #runBatch(items: Item[]): Promise<void> {
    const n = items.length;
    this.stats.batches++;
    this.stats.items += n;
    this.stats.lastBatchSize = n;
    try {
      const run = () => this.#pool.runModel(this.#o.modelId, this.#feeds(items));
      // A batch whose worker died is run once more (the pool restarts workers): its items are still
      // here, only the packed copy went to the dead worker.
      const { outputs: out, model } = await run().catch((err: unknown) => {
        if (err instanceof GateError && err.code === 'INFER_WORKER_DIED' && err.canRetry) return run();
        throw err;
      });
      const per = Object.entries(out).map(([name, t]) => [name, t.data as Float32Array, t.data.length / n] as const);
      items.forEach((it, i) => {
        const r: Record<string, Float32Array> = {};
        for (const [name, arr, size] of per) r[name] = arr.slice(i * size, (i + 1) * size);
        it.resolve({ outputs: r, model });
      });
    } catch (err) {
      for (const it of items) it.reject(err as Error);
    }
  }

  /** Runs everything queued now, without waiting for the delay. */
  async forceFlush(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return;
    const done = new Promise<void>((r) => { const f = () => { this.#idle.delete(f); r(); }; this.#idle.add(f); });
    while (this.#queue.length > 0 && this.#running < this.#o.maxConcurrent) this.#flushOne();
    await done;
  }

  /** Idempotent. Queued items still run (nothing accepted is dropped); new ones are refused. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      await this.forceFlush();
    })();
    return this.#closed;
  }
}

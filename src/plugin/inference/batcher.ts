import { GateError } from '../core/errors.js';
import type { InferencePool } from './pool.js';

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
}

interface Item { input: Float32Array; resolve: (out: Record<string, Float32Array>) => void; reject: (e: Error) => void }

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
  #timer?: NodeJS.Timeout;
  #running = 0;
  #closed?: Promise<void>;
  readonly #idle = new Set<() => void>();
  readonly stats: BatcherStats = { submitted: 0, rejected: 0, batches: 0, items: 0, lastBatchSize: 0 };
  /** Called after each batch; the pipeline uses it to resume paused partitions. */
  onDrain?: () => void;

  constructor(pool: InferencePool, opts: BatcherOptions) {
    this.#pool = pool;
    this.#o = opts;
    this.#itemSize = opts.itemShape.reduce((a, b) => a * b, 1);
  }

  get queueDepth(): number { return this.#queue.length; }
  get inFlight(): number { return this.#running; }
  /** True when a caller should stop feeding (pause its sources). */
  get saturated(): boolean { return this.#queue.length >= this.#o.maxQueue; }

  submit(input: Float32Array): Promise<Record<string, Float32Array>> {
    if (this.#closed) return Promise.reject(new GateError('INFER_CLOSED', `batcher for ${this.#o.modelId} is closed`));
    if (input.length !== this.#itemSize) return Promise.reject(new GateError('INTERNAL', `input has ${input.length} values, expected ${this.#itemSize}`));
    if (this.#queue.length >= this.#o.maxQueue) {
      this.stats.rejected++;
      return Promise.reject(new GateError('INFER_QUEUE_FULL', `inference queue for ${this.#o.modelId} is full (${this.#o.maxQueue})`));
    }
    this.stats.submitted++;
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running >= this.#o.maxConcurrent) return;
    if (this.#queue.length >= this.#o.maxBatch || (this.#closing && this.#queue.length > 0)) {
      this.#flushOne();
    } else if (this.#queue.length > 0 && !this.#timer) {
      this.#timer = setTimeout(() => { this.#timer = undefined; this.#flushOne(); }, this.#o.maxDelayMs);
    }
  }

  #closing = false;

  #flushOne(): void {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined; }
    if (this.#queue.length === 0 || this.#running >= this.#o.maxConcurrent) return;
    const items = this.#queue.splice(0, this.#o.maxBatch);
    this.#running++;
    void this.#runBatch(items).finally(() => {
      this.#running--;
      this.#schedule();
      this.onDrain?.();
      if (this.#running === 0 && this.#queue.length === 0) for (const f of this.#idle) f();
    });
  }

  async #runBatch(items: Item[]): Promise<void> {
    const n = items.length;
    const data = new Float32Array(n * this.#itemSize);
    items.forEach((it, i) => data.set(it.input, i * this.#itemSize));
    this.stats.batches++;
    this.stats.items += n;
    this.stats.lastBatchSize = n;
    try {
      const out = await this.#pool.run(this.#o.modelId, { [this.#o.inputName]: { type: 'float32', data, dims: [n, ...this.#o.itemShape] } });
      const per = Object.entries(out).map(([name, t]) => [name, t.data as Float32Array, t.data.length / n] as const);
      items.forEach((it, i) => {
        const r: Record<string, Float32Array> = {};
        for (const [name, arr, size] of per) r[name] = arr.slice(i * size, (i + 1) * size);
        it.resolve(r);
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

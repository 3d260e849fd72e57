import { Worker } from 'node:worker_threads';
import { GateError, type ErrorCode } from '../core/errors.js';
import { compiledSibling } from '../core/paths.js';
import type { AssetResolver } from '../assets/resolver.js';
import type { ModelEntry } from '../assets/manifest.js';
import type { Feeds, InputFeeds, WorkerRequest, WorkerResponse } from './types.js';

export interface PoolOptions {
  /** Worker threads; each holds its own session of every model. */
  workers: number;
  /** ORT intra-op threads per worker. workers × intraOpThreads ≈ cores is the sane budget. */
  intraOpThreads: number;
  /** Tried in order per model, e.g. ['cuda', 'cpu']; 'cpu' is always appended as the last resort. */
  executionProviders: string[];
}

interface Pending { resolve: (r: WorkerResponse) => void }
interface Slot { worker: Worker; inFlight: number; pending: Map<number, Pending>; dead?: Error }

export interface LoadedModel { entry: ModelEntry; provider: string }

/** Observers (telemetry) subscribe here; the pool itself never imports telemetry. */
export interface PoolObserver { onRun?(modelId: string, batchSize: number, ms: number, provider: string): void }

/**
 * The only way the product runs a model. Worker threads keep onnxruntime's blocking run()
 * off the event loop, so Kafka heartbeats keep flowing while inference runs.
 */
export class InferencePool {
  readonly #slots: Slot[] = [];
  readonly #models = new Map<string, LoadedModel>();
  readonly #threads = new Set<number>();
  readonly #opts: PoolOptions;
  #nextId = 1;
  #closed?: Promise<void>;
  observer?: PoolObserver;

  constructor(opts: Partial<PoolOptions> = {}) {
    const eps = opts.executionProviders?.length ? [...opts.executionProviders] : ['cpu'];
    if (!eps.includes('cpu')) eps.push('cpu');
    this.#opts = { workers: opts.workers ?? 1, intraOpThreads: opts.intraOpThreads ?? 1, executionProviders: eps };
    const file = compiledSibling(import.meta.url, 'worker.js');
    for (let i = 0; i < this.#opts.workers; i++) this.#slots.push(this.#spawn(file));
  }

  #spawn(file: string): Slot {
    const slot: Slot = { worker: new Worker(file), inFlight: 0, pending: new Map() };
    slot.worker.on('message', (res: WorkerResponse) => {
      const p = slot.pending.get(res.id);
      slot.pending.delete(res.id);
      p?.resolve(res);
    });
    // A dead worker fails its own requests with a retryable code instead of hanging them.
    const fail = (err: Error) => {
      slot.dead = err;
      for (const [id, p] of slot.pending) p.resolve({ id, ok: false, code: 'INFER_FAILED', message: `inference worker died: ${err.message}` });
      slot.pending.clear();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => { if (!slot.dead) fail(new Error(`exit ${code}`)); });
    return slot;
  }

  #send(slot: Slot, req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerResponse> {
    if (slot.dead) return Promise.resolve({ id: req.id, ok: false, code: 'INFER_FAILED', message: `inference worker is dead: ${slot.dead.message}` });
    slot.inFlight++;
    return new Promise<WorkerResponse>((resolve) => {
      slot.pending.set(req.id, { resolve });
      slot.worker.postMessage(req, transfer);
    }).finally(() => { slot.inFlight--; });
  }

  async load(entry: ModelEntry, resolver: AssetResolver): Promise<LoadedModel> {
    if (this.#closed) throw new GateError('INFER_CLOSED', 'pool is closed');
    const existing = this.#models.get(entry.id);
    if (existing) return existing;
    const file = await resolver.resolve(entry);
    const results = await Promise.all(this.#slots.map((slot) => this.#send(slot, {
      kind: 'load', id: this.#nextId++, modelId: entry.id, file, batch: entry.batch,
      executionProviders: this.#opts.executionProviders, intraOpThreads: this.#opts.intraOpThreads,
    })));
    const bad = results.find((r) => !r.ok);
    if (bad && !bad.ok) throw new GateError('MODEL_LOAD', bad.message, { details: { model: entry.id } });
    for (const r of results) if (r.ok) r.threads?.forEach((t) => this.#threads.add(t));
    const provider = (results[0] as { provider?: string }).provider ?? 'cpu';
    const loaded = { entry, provider };
    this.#models.set(entry.id, loaded);
    return loaded;
  }

  model(modelId: string): LoadedModel {
    const m = this.#models.get(modelId);
    if (!m) throw new GateError('MODEL_UNKNOWN', `model ${modelId} is not loaded`);
    return m;
  }

  get workerCount(): number { return this.#slots.length; }

  /** Kernel ids of the worker threads and of the ORT threads their sessions started (Linux; else empty). */
  get threadIds(): number[] { return [...this.#threads]; }

  /** Runs one batch on the least busy worker. Input buffers are transferred (do not reuse them). */
  async run(modelId: string, feeds: InputFeeds): Promise<Feeds> {
    if (this.#closed) throw new GateError('INFER_CLOSED', 'pool is closed');
    const { provider } = this.model(modelId);
    const slot = this.#slots.reduce((a, b) => ((b.dead ? Infinity : b.inFlight) < (a.dead ? Infinity : a.inFlight) ? b : a));
    const transfer = [...new Set(Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer))];
    const res = await this.#send(slot, { kind: 'run', id: this.#nextId++, modelId, feeds }, transfer);
    if (!res.ok) throw new GateError(res.code as ErrorCode, res.message, { details: { model: modelId } });
    const n = Object.values(feeds)[0]?.dims[0] ?? 0;
    this.observer?.onRun?.(modelId, n, res.ms ?? 0, provider);
    return res.outputs!;
  }

  /** Idempotent; waits for the workers to release their sessions. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.all(this.#slots.map(async (slot) => {
        if (!slot.dead) await Promise.race([this.#send(slot, { kind: 'close', id: this.#nextId++ }), new Promise((r) => setTimeout(r, 2000))]);
        await slot.worker.terminate();
      }));
    })();
    return this.#closed;
  }
}

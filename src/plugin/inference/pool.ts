import { Worker } from 'node:worker_threads';
import { createChannel } from '../core/diagnostic.js';
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
  restarts?: Partial<RestartPolicy>;
}

interface Pending { resolve: (r: WorkerResponse) => void }
/** `ready`: the worker holds every loaded model's session; a restarted one is not ready until it reloaded them. */
interface Slot { worker: Worker; inFlight: number; pending: Map<number, Pending>; dead?: Error; ready: boolean }

/** How a dead worker comes back: restarts within `windowMs` are bounded, each after a doubling back-off. */
export interface RestartPolicy { maxRestarts: number; windowMs: number; backoffMs: number; maxBackoffMs: number }
const DEFAULT_RESTARTS: RestartPolicy = { maxRestarts: 5, windowMs: 60_000, backoffMs: 100, maxBackoffMs: 5000 };
/** How long a run waits for a worker while all of them are restarting, before it fails (retriable). */
const WAIT_FOR_WORKER_MS = 30_000;

/** `key`: the session's name in the workers (`<id>#<generation>`); a swap loads the next one beside it. */
export interface LoadedModel { entry: ModelEntry; provider: string; key: string }

export interface InferenceRunEvent { source: InferencePool; modelId: string; batchSize: number; ms: number; provider: string }
/** `restarting`: the worker will be started again; false: the restart budget is spent. */
export interface WorkerDiedEvent { source: InferencePool; error: Error; restarting: boolean }
export interface WorkerRestartedEvent { source: InferencePool }
export interface ModelSwappedEvent { source: InferencePool; modelId: string; from: ModelEntry; to: ModelEntry }

/** What the pool publishes (see core/diagnostic.ts); telemetry subscribes, the pool never imports it. */
export const inferenceChannels = {
  /** A batch ran: its size and the worker's milliseconds. */
  run: createChannel<InferenceRunEvent>('inference:run'),
  workerDied: createChannel<WorkerDiedEvent>('inference:worker-died'),
  workerRestarted: createChannel<WorkerRestartedEvent>('inference:worker-restarted'),
  /** A model's sessions were replaced (swap): batches sent from now on run the new one. */
  modelSwapped: createChannel<ModelSwappedEvent>('inference:model-swapped'),
};

/**
 * The only way the product runs a model. Worker threads keep onnxruntime's blocking run()
 * off the event loop, so Kafka heartbeats keep flowing while inference runs.
 */
export class InferencePool {
  readonly #slots: Slot[] = [];
  readonly #models = new Map<string, LoadedModel>();
  /** Resolved model files, for reloading them into a restarted worker. */
  readonly #files = new Map<string, string>();
  /** Runs in flight per session key, so a swapped-out session is released only once its last run is back. */
  readonly #runsByKey = new Map<string, number>();
  readonly #retired = new Set<string>();
  #generation = 0;
  readonly #opts: PoolOptions;
  readonly #restart: RestartPolicy;
  readonly #file: string;
  /** When the last restarts happened, for the bound per window. */
  readonly #restartTimes: number[] = [];
  /** Runs waiting for a worker while none is ready. */
  readonly #waiting = new Set<() => void>();
  /** Restarts under way (back-off, spawn, model loads). */
  #restarting = 0;
  #nextId = 1;
  #closed?: Promise<void>;
  /** Workers started again after they died. */
  restarts = 0;

  constructor(opts: Partial<PoolOptions> = {}) {
    const eps = opts.executionProviders?.length ? [...opts.executionProviders] : ['cpu'];
    if (!eps.includes('cpu')) eps.push('cpu');
    this.#opts = { workers: opts.workers ?? 1, intraOpThreads: opts.intraOpThreads ?? 1, executionProviders: eps };
    this.#restart = { ...DEFAULT_RESTARTS, ...opts.restarts };
    this.#file = compiledSibling(import.meta.url, 'worker.js');
    for (let i = 0; i < this.#opts.workers; i++) this.#slots.push(this.#spawn(true));
  }

  /** Workers that can take a batch now (alive, models loaded). /readyz is false while there are none. */
  get liveWorkers(): number { return this.#slots.filter((s) => !s.dead && s.ready).length; }

  #spawn(ready: boolean): Slot {
    const slot: Slot = { worker: new Worker(this.#file), inFlight: 0, pending: new Map(), ready };
    slot.worker.on('message', (res: WorkerResponse) => {
      const p = slot.pending.get(res.id);
      slot.pending.delete(res.id);
      p?.resolve(res);
    });
    // A dead worker fails its own requests with a retriable code instead of hanging them, and is
    // started again in its place.
    const fail = (err: Error) => {
      if (slot.dead) return;
      slot.dead = err;
      for (const [id, p] of slot.pending) p.resolve({ id, ok: false, code: 'INFER_WORKER_DIED', message: `inference worker died: ${err.message}` });
      slot.pending.clear();
      if (!this.#closed) this.#replace(slot);
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => { if (!slot.dead) fail(new Error(`exit ${code}`)); });
    return slot;
  }

  /**
   * Starts a worker in a dead one's place after a back-off, loads every model into it, and only
   * then lets it take batches. Bounded: past `maxRestarts` within `windowMs` the slot stays dead.
   */
  #replace(dead: Slot): void {
    const now = performance.now();
    while (this.#restartTimes.length && now - this.#restartTimes[0] > this.#restart.windowMs) this.#restartTimes.shift();
    const restarting = this.#restartTimes.length < this.#restart.maxRestarts;
    inferenceChannels.workerDied.publish({ source: this, error: dead.dead!, restarting });
    if (!restarting) {
      this.#wakeWaiting();
      return;
    }
    const wait = Math.min(this.#restart.backoffMs * 2 ** this.#restartTimes.length, this.#restart.maxBackoffMs);
    this.#restartTimes.push(now);
    this.#restarting++;
    setTimeout(() => {
      if (this.#closed) return;
      const slot = this.#spawn(false);
      this.#slots[this.#slots.indexOf(dead)] = slot;
      void this.#loadAll(slot).then((ok) => {
        this.#restarting--;
        if (!ok || slot.dead || this.#closed) {
          this.#wakeWaiting();
          return;
        }
        slot.ready = true;
        this.restarts++;
        inferenceChannels.workerRestarted.publish({ source: this });
        this.#wakeWaiting();
      });
    }, wait).unref();
  }

  async #loadAll(slot: Slot): Promise<boolean> {
    for (const { entry, key } of this.#models.values()) {
      const res = await this.#send(slot, this.#loadRequest(entry, this.#files.get(entry.id)!, key));
      // A worker that cannot load what its predecessor had is ended: its exit starts the next try.
      if (!res.ok) {
        void slot.worker.terminate();
        return false;
      }
    }
    return true;
  }

  #wakeWaiting(): void {
    for (const w of [...this.#waiting]) w();
  }

  /** The least busy ready worker; while none is, waits for a restart (bounded), then fails retriably. */
  async #pick(): Promise<Slot> {
    const deadline = performance.now() + WAIT_FOR_WORKER_MS;
    for (;;) {
      const live = this.#slots.filter((s) => !s.dead && s.ready);
      if (live.length) return live.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
      if (this.#closed) throw new GateError('INFER_CLOSED', 'pool is closed');
      const restarting = this.#restarting > 0;
      const left = deadline - performance.now();
      if (!restarting || left <= 0) {
        throw new GateError('INFER_WORKER_DIED', `no inference worker is alive${restarting ? ` after ${WAIT_FOR_WORKER_MS} ms` : ' (restart budget spent)'}`, { canRetry: restarting });
      }
      await new Promise<void>((resolve) => {
        const done = () => { clearTimeout(t); this.#waiting.delete(done); resolve(); };
        const t = setTimeout(done, Math.min(left, 1000));
        this.#waiting.add(done);
      });
    }
  }

  #send(slot: Slot, req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerResponse> {
    if (slot.dead) return Promise.resolve({ id: req.id, ok: false, code: 'INFER_WORKER_DIED', message: `inference worker is dead: ${slot.dead.message}` });
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
    const loaded = await this.#loadEverywhere(entry, file);
    this.#files.set(entry.id, file);
    this.#models.set(entry.id, loaded);
    return loaded;
  }

  /**
   * Replaces a loaded model by another manifest entry (a new file or version) without stopping:
   * the new sessions load beside the old ones in every worker (file sha256-checked by the
   * resolver), then the pool switches in one step, between batches: a batch sent before runs on
   * the old session, every later one on the new; the old sessions are released once their last
   * run is back. A file that fails to resolve or load leaves the old model running (the error is thrown).
   */
  async swap(entry: ModelEntry, resolver: AssetResolver): Promise<LoadedModel> {
    const prev = this.model(entry.id);
    const file = await resolver.resolve(entry);
    const next = await this.#loadEverywhere(entry, file);
    if (this.#closed) throw new GateError('INFER_CLOSED', 'pool is closed');
    this.#files.set(entry.id, file);
    this.#models.set(entry.id, next);
    this.#retired.add(prev.key);
    this.#releaseIfIdle(prev.key);
    inferenceChannels.modelSwapped.publish({ source: this, modelId: entry.id, from: prev.entry, to: entry });
    return next;
  }

  async #loadEverywhere(entry: ModelEntry, file: string): Promise<LoadedModel> {
    const key = `${entry.id}#${++this.#generation}`;
    const slots = this.#slots.filter((s) => !s.dead);
    const results = await Promise.all(slots.map((slot) => this.#send(slot, this.#loadRequest(entry, file, key))));
    const bad = results.find((r) => !r.ok);
    if (bad && !bad.ok) {
      await Promise.all(slots.map((slot) => this.#send(slot, { kind: 'unload', id: this.#nextId++, modelId: key })));
      throw new GateError('MODEL_LOAD', bad.message, { details: { model: entry.id } });
    }
    return { entry, provider: (results[0] as { provider?: string }).provider ?? 'cpu', key };
  }

  #releaseIfIdle(key: string): void {
    if (!this.#retired.has(key) || (this.#runsByKey.get(key) ?? 0) > 0) return;
    this.#retired.delete(key);
    for (const slot of this.#slots) void this.#send(slot, { kind: 'unload', id: this.#nextId++, modelId: key });
  }

  #loadRequest(entry: ModelEntry, file: string, key: string): WorkerRequest {
    return {
      kind: 'load', id: this.#nextId++, modelId: key, file, batch: entry.batch,
      executionProviders: this.#opts.executionProviders, intraOpThreads: this.#opts.intraOpThreads,
    };
  }

  model(modelId: string): LoadedModel {
    const m = this.#models.get(modelId);
    if (!m) throw new GateError('MODEL_UNKNOWN', `model ${modelId} is not loaded`);
    return m;
  }

  get workerCount(): number { return this.#slots.length; }


  /** Runs one batch on the least busy worker. Input buffers are transferred (do not reuse them). */
  async run(modelId: string, feeds: InputFeeds): Promise<Feeds> {
    return (await this.runModel(modelId, feeds)).outputs;
  }

  /** As run(), and which model (entry, version) ran it: across a swap, the one its session belongs to. */
  async runModel(modelId: string, feeds: InputFeeds): Promise<{ outputs: Feeds; model: LoadedModel }> {
    if (this.#closed) throw new GateError('INFER_CLOSED', 'pool is closed');
    const slot = await this.#pick();
    // Read after the wait for a worker: a swap meanwhile sends this batch to the new session.
    const model = this.model(modelId);
    const transfer = [...new Set(Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer))];
    this.#runsByKey.set(model.key, (this.#runsByKey.get(model.key) ?? 0) + 1);
    let res: WorkerResponse;
    try {
      res = await this.#send(slot, { kind: 'run', id: this.#nextId++, modelId: model.key, feeds }, transfer);
    } finally {
      const left = this.#runsByKey.get(model.key)! - 1;
      if (left > 0) this.#runsByKey.set(model.key, left);
      else this.#runsByKey.delete(model.key);
      this.#releaseIfIdle(model.key);
    }
    if (!res.ok) throw new GateError(res.code as ErrorCode, res.message, { details: { model: modelId } });
    const n = Object.values(feeds)[0]?.dims[0] ?? 0;
    if (inferenceChannels.run.hasSubscribers) inferenceChannels.run.publish({ source: this, modelId, batchSize: n, ms: res.ms ?? 0, provider: model.provider });
    return { outputs: res.outputs!, model };
  }

  /**
   * Ends worker `index` as a crash would (fault tests, operators' drills): batches sent to it get
   * no answer, the pool fails them retriably once it exits and starts another worker.
   */
  crashWorker(index: number): void {
    const slot = this.#slots[index];
    if (slot && !slot.dead) slot.worker.postMessage({ kind: 'exit', id: this.#nextId++ } satisfies WorkerRequest);
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

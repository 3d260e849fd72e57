import { AssetResolver } from '../assets/resolver.js';
import { GateError } from '../core/errors.js';
import { findModel, loadManifest, type Manifest, type ModelEntry } from '../assets/manifest.js';
import { InferencePool, type PoolOptions } from '../inference/pool.js';
import { MicroBatcher, type BatcherOptions } from '../inference/batcher.js';
import type { Feeds, InputFeeds } from '../inference/types.js';

export interface RuntimeOptions extends Partial<PoolOptions> {
  manifestPaths?: string[];
  mirrorDir?: string;
  cacheDir?: string;
  allowDownload?: boolean;
  batch?: Partial<Pick<BatcherOptions, 'maxBatch' | 'maxDelayMs' | 'maxQueue'>>;
}

/**
 * Manifest + resolver + pool + one batcher per model: everything that runs a model,
 * owned in one place so start-up and close order are obvious.
 */
export class ModelRuntime {
  readonly manifest: Manifest;
  readonly resolver: AssetResolver;
  readonly pool: InferencePool;
  readonly #batchers = new Map<string, MicroBatcher>();
  readonly #batch: RuntimeOptions['batch'];

  constructor(opts: RuntimeOptions = {}) {
    this.manifest = loadManifest(opts.manifestPaths);
    this.resolver = new AssetResolver({ mirrorDir: opts.mirrorDir, cacheDir: opts.cacheDir, allowDownload: opts.allowDownload });
    this.pool = new InferencePool(opts);
    this.#batch = opts.batch;
  }

  entry(modelId: string): ModelEntry {
    return findModel(this.manifest, modelId);
  }

  /** Loads a model into every worker. When its file cannot be resolved and the manifest names an
   *  equivalent `fallback`, that one runs under the requested id (its version says which it is). */
  async load(modelId: string): Promise<{ entry: ModelEntry; provider: string }> {
    const entry = this.entry(modelId);
    try {
      return await this.pool.load(entry, this.resolver);
    } catch (err) {
      if (!entry.fallback || !(err instanceof GateError && err.code.startsWith('ASSET_'))) throw err;
      return this.pool.load({ ...this.entry(entry.fallback), id: entry.id }, this.resolver);
    }
  }

  /** A shared batcher per model, so frames of every partition land in the same batches. */
  batcher(modelId: string): MicroBatcher {
    let b = this.#batchers.get(modelId);
    if (!b) {
      const { entry } = this.pool.model(modelId);
      b = new MicroBatcher(this.pool, {
        modelId,
        inputName: entry.input.name,
        itemShape: entry.input.shape.slice(1),
        maxBatch: this.#batch?.maxBatch ?? 16,
        maxDelayMs: this.#batch?.maxDelayMs ?? 5,
        maxQueue: this.#batch?.maxQueue ?? 256,
        maxConcurrent: this.pool.workerCount,
        // Batched models are face models (regressors, embedders): faces cross as uint8.
        faces: { norm: entry.normalisation, colorOrder: entry.input.colorOrder },
      });
      this.#batchers.set(modelId, b);
    }
    return b;
  }

  /** Whole-batch runs (detector, denoiser) that need no micro-batching. */
  run(modelId: string, feeds: InputFeeds): Promise<Feeds> {
    return this.pool.run(modelId, feeds);
  }

  get batchers(): MicroBatcher[] { return [...this.#batchers.values()]; }

  async close(): Promise<void> {
    await Promise.all([...this.#batchers.values()].map((b) => b.close()));
    await this.pool.close();
  }
}

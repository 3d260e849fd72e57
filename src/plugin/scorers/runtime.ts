import { AssetResolver } from '../assets/resolver.js';
import { GateError } from '../core/errors.js';
import { findModel, loadManifest, manifestFiles, type Manifest, type ModelEntry } from '../assets/manifest.js';
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
  #manifest: Manifest;
  readonly #manifestPaths: string[] | undefined;
  /** Each loaded model's entry as the manifest gave it when it was (re)loaded: what a reload compares. */
  readonly #asked = new Map<string, ModelEntry>();
  readonly resolver: AssetResolver;
  readonly pool: InferencePool;
  readonly #batchers = new Map<string, MicroBatcher>();
  readonly #batch: RuntimeOptions['batch'];

  constructor(opts: RuntimeOptions = {}) {
    this.#manifestPaths = opts.manifestPaths;
    this.#manifest = loadManifest(opts.manifestPaths);
    this.resolver = new AssetResolver({ mirrorDir: opts.mirrorDir, cacheDir: opts.cacheDir, allowDownload: opts.allowDownload });
    this.pool = new InferencePool(opts);
    this.#batch = opts.batch;
  }

  get manifest(): Manifest { return this.#manifest; }

  entry(modelId: string): ModelEntry {
    return findModel(this.#manifest, modelId);
  }

  /** Loads a model into every worker. When its file cannot be resolved and the manifest names an
   *  equivalent `fallback`, that one runs under the requested id (its version says which it is). */
  async load(modelId: string): Promise<{ entry: ModelEntry; provider: string }> {
    const entry = this.entry(modelId);
    const loaded = await this.#withFallback(entry, (e) => this.pool.load(e, this.resolver));
    this.#asked.set(modelId, entry);
    return loaded;
  }

  #withFallback<T>(entry: ModelEntry, load: (e: ModelEntry) => Promise<T>): Promise<T> {
    return load(entry).catch((err: unknown) => {
      if (!entry.fallback || !(err instanceof GateError && err.code.startsWith('ASSET_'))) throw err;
      return load({ ...this.entry(entry.fallback), id: entry.id });
    });
  }

  /**
   * Model rollout without a restart: re-reads the manifests and swaps in every loaded model whose
   * entry changed (file, sha256, version) — sha256-checked, between batches (pool.swap). A model
   * whose new entry fails (missing or corrupt file, another input or normalisation, which the
   * running batchers are built for) keeps running as it was, and is reported in `failed`.
   */
  async reloadModels(opts: { recheckFiles?: boolean } = {}): Promise<{ swapped: ModelEntry[]; failed: { id: string; error: GateError }[] }> {
    this.#manifest = loadManifest(this.#manifestPaths);
    const swapped: ModelEntry[] = [], failed: { id: string; error: GateError }[] = [];
    for (const [id, was] of this.#asked) {
      let next: ModelEntry;
      try { next = this.entry(id); } catch (err) { failed.push({ id, error: err as GateError }); continue; }
      if (next.sha256 === was.sha256 && next.version === was.version && next.file === was.file) {
        // The running sessions hold the verified bytes; a file that changed under the same entry
        // is reported now (a rollout that has not updated the manifest yet, or a damaged copy)
        // rather than at the next start, which would refuse it.
        if (opts.recheckFiles) {
          this.resolver.forget(was);
          try { await this.resolver.resolve(was); } catch (err) { failed.push({ id, error: err as GateError }); }
        }
        continue;
      }
      try {
        if (JSON.stringify([next.input, next.normalisation, next.outputs]) !== JSON.stringify([was.input, was.normalisation, was.outputs])) {
          throw new GateError('MODEL_LOAD', `${id}: the new entry changes the input, outputs or normalisation; that needs a restart`, { details: { model: id } });
        }
        await this.#withFallback(next, (e) => this.pool.swap(e, this.resolver));
        this.#asked.set(id, next);
        swapped.push(next);
      } catch (err) {
        failed.push({ id, error: err instanceof GateError ? err : new GateError('MODEL_LOAD', (err as Error).message, { cause: err }) });
      }
    }
    return { swapped, failed };
  }

  /** The manifests and every place the loaded models' current entries may be found on disk: what a rollout changes. */
  watchedFiles(): string[] {
    const files = manifestFiles(this.#manifestPaths ?? []);
    for (const id of this.#asked.keys()) {
      try { files.push(...this.resolver.candidateFiles(this.entry(id))); } catch { /* not in the manifest now: its reload reports that */ }
    }
    return [...new Set(files)];
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

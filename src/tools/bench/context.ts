import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../plugin/config/load.js';
import { cacheDir } from '../../plugin/core/paths.js';
import { ModelRuntime, type RuntimeOptions } from '../../plugin/scorers/runtime.js';

/** Sizes of one benchmark run: quick mode keeps the whole thing under ~90 s on two busy cores. */
export interface BenchSizes {
  /** LFW images for the preparation and inference benchmarks. */
  images: number;
  repeats: number;
  /** Inference batch sizes of the bare and embedder benchmarks. */
  batches: number[];
  /** Frames per saturation run, and how many runs. */
  saturationFrames: number;
  saturationRuns: number;
  /** Seconds per fixed-rate latency run. */
  latencySeconds: number;
  /** Aligned images the Python peer and our path score. */
  peerImages: number;
  diffusionImages: number;
}

export const QUICK: BenchSizes = { images: 16, repeats: 3, batches: [1, 8, 32], saturationFrames: 150, saturationRuns: 1, latencySeconds: 4, peerImages: 48, diffusionImages: 1 };
export const FULL: BenchSizes = { images: 64, repeats: 5, batches: [1, 8, 32], saturationFrames: 600, saturationRuns: 3, latencySeconds: 20, peerImages: 256, diffusionImages: 4 };

export interface BenchContext {
  quick: boolean;
  sizes: BenchSizes;
  cfg: Config;
  /** ../shared: LFW images and the detector/embedder mirror. */
  sharedDir: string;
  /** .cache/bench: landmarks, aligned images, exported models, the bench manifest. */
  workDir: string;
  /** Extra manifest naming the fixture and random-weight models (written by models.ts). */
  manifestPath: string;
  intraOpThreads: number;
  workers: number;
  maxBatch: number;
  maxDelayMs: number;
  /** Folder for --cpu-prof profiles of the gate child; none: no profiling. */
  profileDir?: string;
  notes: string[];
  log(msg: string): void;
}

export function benchWorkDir(): string {
  const dir = path.join(cacheDir(), 'bench');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A runtime with the same pool shape as the gate's (workers × intra-op threads from config). */
export function benchRuntime(ctx: BenchContext, extra: Partial<RuntimeOptions> = {}): ModelRuntime {
  return new ModelRuntime({
    manifestPaths: [...ctx.cfg.get('models.manifests'), ctx.manifestPath],
    mirrorDir: ctx.sharedDir,
    allowDownload: false,
    workers: ctx.workers,
    intraOpThreads: ctx.intraOpThreads,
    executionProviders: ['cpu'],
    batch: { maxBatch: ctx.maxBatch, maxDelayMs: ctx.maxDelayMs, maxQueue: ctx.cfg.get('inference.maxQueue') },
    ...extra,
  });
}

import type { AlignedFace } from '../../plugin/core/frame.js';
import { defaultModel } from '../../plugin/assets/manifest.js';
import type { ModelRuntime } from '../../plugin/scorers/runtime.js';
import { DiffusionScorer } from '../../plugin/diffusion/scorer.js';

export interface DiffusionBenchOptions {
  denoiserId: string;
  /** Defaults to the manifest's first embedder. */
  embedderId?: string;
  images: AlignedFace[];
  /** Samples per UNet call to try; default [20, 80, 160] (1, 4 and 8 images of R = 10). */
  batchSizes?: number[];
  repeats?: number;
}

export interface DiffusionBenchRow {
  batchSize: number;
  images: number;
  repeats: number;
  msPerImage: number;
  unetCallsPerImage: number;
  meanScore: number;
  provider: string;
}

/**
 * Full DifFIQA throughput per UNet batch size: all images go into one scoreBatch call so that
 * samples of several images share UNet calls, as the escalation stage batches them. One
 * untimed image first, so that session start-up and allocator warm-up are not counted.
 */
export async function benchDiffusion(rt: ModelRuntime, opts: DiffusionBenchOptions): Promise<DiffusionBenchRow[]> {
  const embedderId = opts.embedderId ?? defaultModel(rt.manifest, 'embedder').id;
  const repeats = opts.repeats ?? 10;
  const inputs = opts.images.map((face, i) => ({ face, seed: `bench-${i}` }));
  const rows: DiffusionBenchRow[] = [];
  if (inputs.length === 0) return rows;
  for (const batchSize of opts.batchSizes ?? [20, 80, 160]) {
    const scorer = new DiffusionScorer(rt, { denoiserId: opts.denoiserId, embedderId, repeats, maxBatch: batchSize });
    await scorer.scoreBatch(inputs.slice(0, 1));
    const t0 = performance.now();
    const results = await scorer.scoreBatch(inputs);
    const ms = performance.now() - t0;
    rows.push({
      batchSize,
      images: inputs.length,
      repeats,
      msPerImage: ms / inputs.length,
      unetCallsPerImage: results.reduce((a, r) => a + r.unetCalls, 0) / results.length,
      meanScore: results.reduce((a, r) => a + r.score, 0) / results.length,
      provider: rt.pool.model(opts.denoiserId).provider,
    });
  }
  return rows;
}

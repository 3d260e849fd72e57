import { benchDiffusion, type DiffusionBenchRow } from './diffusion-throughput.js';
import type { BenchContext } from './context.js';
import { benchRuntime } from './context.js';
import type { BenchFace } from './faces.js';
import { FIXTURE_DENOISER, OWN_DENOISER, unusable } from './models.js';

export interface DiffusionResult {
  denoiserId: string;
  embedderId: string;
  rows: DiffusionBenchRow[];
  note?: string;
}

/** Full DifFIQA on CPU: the tiny fixture denoiser always, the project's own UNet when it resolves and `withOwn`. */
export async function benchFullDifFIQA(ctx: BenchContext, faces: BenchFace[], batchSizes: number[], withOwn: boolean): Promise<DiffusionResult[]> {
  const embedderId = ctx.cfg.get('models.embedder');
  const rt = benchRuntime(ctx);
  try {
    const results: DiffusionResult[] = [];
    const own = withOwn ? await unusable(rt, OWN_DENOISER) : 'quick mode: full mode only';
    if (own) ctx.notes.push(`${OWN_DENOISER} is not timed (${own}): full DifFIQA with the fixture denoiser only`);
    for (const denoiserId of own ? [FIXTURE_DENOISER] : [FIXTURE_DENOISER, OWN_DENOISER]) {
      ctx.log(`  full DifFIQA with ${denoiserId}…`);
      const rows = await benchDiffusion(rt, { denoiserId, embedderId, images: faces.map((f) => f.aligned), batchSizes });
      const r: DiffusionResult = { denoiserId, embedderId, rows };
      if (denoiserId === FIXTURE_DENOISER) r.note = 'tiny untrained fixture UNet (dim 8): measures the scorer machinery, not a real UNet';
      results.push(r);
    }
    return results;
  } finally {
    await rt.close();
  }
}

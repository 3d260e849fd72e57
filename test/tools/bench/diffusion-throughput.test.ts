import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchDiffusion } from '../../../src/tools/bench/diffusion-throughput.js';
import type { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { DENOISER_ID, EMBEDDER_ID, fixtureRuntime, parityCases, parityFace } from '../../plugin/diffusion/fixtures.js';

describe('benchDiffusion', () => {
  let rt: ModelRuntime;
  beforeAll(async () => { rt = await fixtureRuntime(); });
  afterAll(async () => { await rt?.close(); });

  it('benchDiffusion should report ms and UNet calls per image for each batch size', async () => {
    const images = parityCases().filter((c) => c.repeats === 3).map((c) => parityFace(c.face));
    const rows = await benchDiffusion(rt, { denoiserId: DENOISER_ID, embedderId: EMBEDDER_ID, images, batchSizes: [6, 12], repeats: 3 });
    expect(rows.map((r) => r.batchSize)).toEqual([6, 12]);
    // 2 images × 6 samples: in chunks of 6 that is 2 chunks × 6 steps = 12 calls (6 each); in one chunk 6 (3 each).
    expect(rows[0].unetCallsPerImage).toBeCloseTo(6, 12);
    expect(rows[1].unetCallsPerImage).toBeCloseTo(3, 12);
    for (const r of rows) {
      expect(r).toMatchObject({ images: 2, repeats: 3, provider: 'cpu' });
      expect(r.msPerImage).toBeGreaterThan(0);
      expect(r.meanScore).toBeGreaterThan(0.5);
      expect(r.meanScore).toBeLessThanOrEqual(1);
    }
    // Same seeds, same noise: the batch size must not change the scores beyond float noise.
    expect(Math.abs(rows[0].meanScore - rows[1].meanScore)).toBeLessThan(1e-6);
  });
});

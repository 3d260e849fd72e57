import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ddimReconstruct, poolDenoiser } from '../../../src/plugin/diffusion/ddim.js';
import type { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { DENOISER_ID, fixtureRuntime, parityCases, parityNoise, readF32 } from './fixtures.js';

const D = 3 * 112 * 112;

describe('ddimReconstruct', () => {
  let rt: ModelRuntime;
  beforeAll(async () => { rt = await fixtureRuntime(); });
  afterAll(async () => { await rt?.close(); });

  it('ddimReconstruct should reproduce the reference x̂ from its x_t and z (ONNX vs PyTorch UNet)', async () => {
    const cases = parityCases().filter((c) => c.intermediates.includes('xhat.f32'));
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      const y = readF32(c.dir, 'xt.f32');
      const { z } = parityNoise(c);
      const calls = await ddimReconstruct(y, poolDenoiser(rt, rt.pool.model(DENOISER_ID).entry, 112), {
        itemSize: D, maxBatch: 4, fillZ: (k, out) => out.set(z[k]),
      });
      expect(calls).toBe(6 * Math.ceil((2 * c.repeats) / 4));
      const expected = readF32(c.dir, 'xhat.f32');
      let max = 0;
      for (let i = 0; i < y.length; i++) max = Math.max(max, Math.abs(y[i] - expected[i]));
      // Measured ~1e-6: ORT and PyTorch differ in the UNet's float32 summation order only.
      expect(max, c.dir).toBeLessThan(1e-5);
      expect(Math.max(...y.subarray(0, D))).toBeLessThanOrEqual(1);
    }
  });

  it('ddimReconstruct should fail with MODEL_OUTPUT when the denoiser returns NaN', async () => {
    const y = new Float32Array(2 * D);
    const nan = async (x: Float32Array) => new Float32Array(x.length).fill(NaN);
    await expect(ddimReconstruct(y, nan, { itemSize: D, maxBatch: 2, fillZ: () => {} })).rejects.toMatchObject({ code: 'MODEL_OUTPUT' });
  });
});

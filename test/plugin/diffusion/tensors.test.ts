import { describe, expect, it } from 'vitest';
import { flipCHW, forwardNoise, packForEmbedder, packImage, UNIT_RANGE } from '../../../src/plugin/diffusion/tensors.js';
import { cosineSchedule, FORWARD_T } from '../../../src/plugin/diffusion/schedule.js';
import { toTensor } from '../../../src/plugin/face/tensor.js';
import { flipHorizontal } from '../../../src/plugin/face/align.js';
import { parityCases, parityFace, parityNoise, readF32 } from './fixtures.js';

const D = 3 * 112 * 112;

describe('packImage', () => {
  it('packImage should give (p/255 − 0.5)/0.5 in CHW within float32 rounding of toTensor', () => {
    const face = parityFace(parityCases()[0].face);
    const x = packImage(face.data, 112, UNIT_RANGE, 'RGB');
    const ref = toTensor([face], UNIT_RANGE, 'RGB');
    let max = 0;
    for (let i = 0; i < D; i++) max = Math.max(max, Math.abs(x[i] - ref[i]));
    expect(max).toBeLessThan(1e-6);
    expect(Math.min(...x)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...x)).toBeLessThanOrEqual(1);
    // BGR reverses the channel planes.
    const bgr = packImage(face.data, 112, UNIT_RANGE, 'BGR');
    expect(bgr.subarray(0, 112 * 112)).toEqual(x.subarray(2 * 112 * 112));
  });
});

describe('flipCHW', () => {
  it('flipCHW should equal packing the horizontally flipped pixels', () => {
    const face = parityFace(parityCases()[1].face);
    const flipped = flipCHW(packImage(face.data, 112, UNIT_RANGE, 'RGB'), 112);
    expect(flipped).toEqual(packImage(flipHorizontal(face).data, 112, UNIT_RANGE, 'RGB'));
  });
});

describe('forwardNoise', () => {
  it('forwardNoise should reproduce the reference x_t bit for bit', () => {
    const s = cosineSchedule().f32;
    const cases = parityCases().filter((c) => c.intermediates.includes('xt.f32'));
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      const x = packImage(parityFace(c.face).data, 112, UNIT_RANGE, 'RGB');
      const xf = flipCHW(x, 112);
      const { eps } = parityNoise(c);
      const expected = readF32(c.dir, 'xt.f32');
      const out = new Float32Array(D);
      let mismatches = 0;
      for (let k = 0; k < 2 * c.repeats; k++) {
        forwardNoise(k < c.repeats ? x : xf, eps.subarray(k * D, (k + 1) * D), s.sqrtAlphasCumprod[FORWARD_T], s.sqrtOneMinusAlphasCumprod[FORWARD_T], out);
        for (let i = 0; i < D; i++) if (out[i] !== expected[k * D + i]) mismatches++;
      }
      expect(mismatches, c.dir).toBe(0);
    }
  });
});

describe('packForEmbedder', () => {
  it('packForEmbedder should map x in [−1,1] to the embedder normalisation of pixel/255', () => {
    const face = parityFace(parityCases()[0].face);
    const norm = { mean: [0.485, 0.456, 0.406] as [number, number, number], std: [0.229, 0.224, 0.225] as [number, number, number] };
    const out = new Float32Array(D);
    packForEmbedder(packImage(face.data, 112, UNIT_RANGE, 'RGB'), norm, false, out);
    const direct = toTensor([face], norm, 'RGB');
    let max = 0;
    for (let i = 0; i < D; i++) max = Math.max(max, Math.abs(out[i] - direct[i]));
    expect(max).toBeLessThan(1e-5);
    const swapped = new Float32Array(D);
    packForEmbedder(packImage(face.data, 112, UNIT_RANGE, 'RGB'), norm, true, swapped);
    const bgr = toTensor([face], norm, 'BGR');
    let maxSwap = 0;
    for (let i = 0; i < D; i++) maxSwap = Math.max(maxSwap, Math.abs(swapped[i] - bgr[i]));
    expect(maxSwap).toBeLessThan(1e-5);
  });
});

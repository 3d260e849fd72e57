/**
 * Element-wise DifFIQA arithmetic on float32 image tensors. Every Math.fround marks a place where
 * the PyTorch reference (models/tools/diffiqa_ref.py) rounds a float32 tensor op; keeping them
 * is what lets scores match it to ~1e-7 instead of ~1e-5. ε̂ divides by √(1/ᾱ_t − 1) ≈ 0.016, so
 * a rounding difference in y/√ᾱ_t − x̂₀ is amplified sixty-fold.
 */
import { GateError } from '../core/errors.js';
import type { Normalisation } from '../assets/manifest.js';
import type { DdimStep } from './schedule.js';

const f = Math.fround;

/** The denoiser's [−1,1] contract, as the manifest must state it. */
export const UNIT_RANGE: Normalisation = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/**
 * Packs one square RGB HWC uint8 image into CHW float32: x = (p/255 − mean)/std rounded as
 * torch/numpy do op by op on float32, channel c taken in `colorOrder`.
 */
export function packImage(pixels: Uint8Array, size: number, norm: Normalisation, colorOrder: 'RGB' | 'BGR', out = new Float32Array(3 * size * size)): Float32Array {
  const plane = size * size;
  if (pixels.length !== 3 * plane) throw new GateError('INTERNAL', `image has ${pixels.length} bytes, need ${3 * plane}`);
  for (let k = 0; k < 3; k++) {
    const src = colorOrder === 'RGB' ? k : 2 - k;
    const m = f(norm.mean[k]), s = f(norm.std[k]);
    for (let i = 0, o = k * plane; i < plane; i++, o++) out[o] = f(f(f(pixels[3 * i + src] / 255) - m) / s);
  }
  return out;
}

/** Mirror image of a CHW tensor (last axis reversed), like torch.flip(x, dims=[-1]). */
export function flipCHW(x: Float32Array, size: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let row = 0; row < x.length; row += size) {
    for (let j = 0; j < size; j++) out[row + size - 1 - j] = x[row + j];
  }
  return out;
}

/** x_t = f32(√ᾱ)·x + f32(√(1−ᾱ))·ε for one sample, into `out`. */
export function forwardNoise(x: Float32Array, eps: Float32Array, sqrtA: number, sqrtOneMinusA: number, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = f(f(sqrtA * x[i]) + f(sqrtOneMinusA * eps[i]));
}

/**
 * One DDIM step (η folded into σ) in place over y, given the raw UNet output for the same samples:
 * x̂₀ = clamp(out, −1, 1); ε̂ = (y/√ᾱ_t − x̂₀)/√(1/ᾱ_t − 1); y ← x̂₀ when t_next < 0, else
 * x̂₀·√ᾱ_next + c·ε̂ + σ·z. The last step leaves the clamped x̂₀, so the final clamp is implied.
 * Returns false when the model produced a non-finite value.
 */
export function ddimUpdate(y: Float32Array, x0raw: Float32Array, z: Float32Array | undefined, s: DdimStep): boolean {
  let finite = true;
  if (s.tNext < 0) {
    for (let i = 0; i < y.length; i++) {
      const v = x0raw[i];
      if (!(v === v)) finite = false; // NaN: clamping would hide it
      y[i] = v < -1 ? -1 : v > 1 ? 1 : v;
    }
    return finite;
  }
  if (!z) throw new GateError('INTERNAL', `DDIM step (${s.t}, ${s.tNext}) needs noise`);
  const { sqrtRecip, sqrtRecipm1, sqrtAlphaNext, c, sigma } = s;
  for (let i = 0; i < y.length; i++) {
    const v = x0raw[i];
    if (!(v === v)) finite = false;
    const x0 = v < -1 ? -1 : v > 1 ? 1 : v;
    const epsHat = f(f(f(sqrtRecip * y[i]) - x0) / sqrtRecipm1);
    y[i] = f(f(f(x0 * sqrtAlphaNext) + f(c * epsHat)) + f(sigma * z[i]));
  }
  return finite;
}

/**
 * FR-model input from a [−1,1] tensor: p = (v + 1)·0.5, then (p − mean)/std with float32
 * mean/std, i.e. the embedder's manifest normalisation applied to what would be pixel/255.
 * `swap` reverses the channels when the embedder's colour order differs from the denoiser's.
 */
export function packForEmbedder(v: Float32Array, norm: Normalisation, swap: boolean, out: Float32Array): void {
  const plane = v.length / 3;
  for (let k = 0; k < 3; k++) {
    const src = (swap ? 2 - k : k) * plane;
    const m = f(norm.mean[k]), s = f(norm.std[k]);
    for (let i = 0, o = k * plane; i < plane; i++, o++) out[o] = f(f(f(f(v[src + i] + 1) * 0.5) - m) / s);
  }
}

import { GateError } from '../core/errors.js';
import type { AlignedFace } from '../core/frame.js';

/** Per-channel normalisation, in the model's colour order; always taken from the model manifest. */
export interface Normalisation {
  mean: readonly number[];
  std: readonly number[];
}

export type ColorOrder = 'RGB' | 'BGR';

/**
 * Packs square RGB HWC uint8 faces into one NCHW float32 batch: x = (pixel/255 − mean[c]) / std[c],
 * channel c counted in `colorOrder`. `out` may be passed to reuse a buffer of the right length.
 */
export function toTensor(faces: readonly AlignedFace[] | readonly Uint8Array[], norm: Normalisation, colorOrder: ColorOrder, out?: Float32Array): Float32Array {
  if (norm.mean.length !== 3 || norm.std.length !== 3 || norm.std.some((s) => !(s !== 0 && Number.isFinite(s)))) {
    throw new GateError('CONFIG_INVALID', 'normalisation needs 3 means and 3 finite, non-zero stds');
  }
  if (faces.length === 0) return out ?? new Float32Array(0);
  const pixels = faces.map((f) => (f instanceof Uint8Array ? f : f.data));
  const bytes = pixels[0].length;
  const plane = bytes / 3;
  if (!Number.isInteger(Math.sqrt(plane)) || pixels.some((p) => p.length !== bytes)) {
    throw new GateError('INTERNAL', 'faces must all be square RGB images of the same size');
  }
  const size = pixels.length * bytes;
  const dst = out ?? new Float32Array(size);
  if (dst.length !== size) throw new GateError('INTERNAL', `tensor buffer holds ${dst.length} values, need ${size}`);

  // Output channel k reads source channel src[k]; x = p·scale[k] − offset[k].
  const src = colorOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const scale = norm.std.map((s) => 1 / (255 * s));
  const offset = norm.mean.map((m, k) => m / norm.std[k]);
  for (let n = 0; n < pixels.length; n++) {
    const px = pixels[n];
    const base = n * bytes;
    for (let k = 0; k < 3; k++) {
      const sc = scale[k], off = offset[k];
      let o = base + k * plane;
      for (let i = src[k]; i < bytes; i += 3) dst[o++] = px[i] * sc - off;
    }
  }
  return dst;
}

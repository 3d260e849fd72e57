import { GateError } from '../core/errors.js';
import type { ModelEntry } from '../assets/manifest.js';
import type { ModelRuntime } from '../scorers/runtime.js';
import { ddimSteps, type DdimStep } from './schedule.js';
import { ddimUpdate } from './tensors.js';

/** Runs the denoiser on n samples at step t; returns the raw (unclamped) x̂₀. */
export type DenoiseFn = (x: Float32Array, n: number, t: number) => Promise<Float32Array>;

/** A DenoiseFn through the runtime's worker pool (the only place models run). */
export function poolDenoiser(rt: ModelRuntime, den: ModelEntry, size: number): DenoiseFn {
  return async (x, n, t) => {
    const expected = x.length; // read now: run() transfers x away
    const feeds = {
      [den.input.name]: { type: 'float32' as const, data: x, dims: [n, 3, size, size] },
      [den.input.timestepName ?? 't']: { type: 'int64' as const, data: new BigInt64Array(n).fill(BigInt(t)), dims: [n] },
    };
    const out = (await rt.run(den.id, feeds))[den.outputs[0]];
    if (!out || out.type !== 'float32' || out.data.length !== expected) {
      throw new GateError('MODEL_OUTPUT', `denoiser ${den.id} must return ${den.outputs[0]} as float32 [${n},3,${size},${size}]`);
    }
    return out.data as Float32Array;
  };
}

export interface ReconstructOptions {
  /** Values per sample (3·H·W). */
  itemSize: number;
  /** Samples per denoiser call. */
  maxBatch: number;
  /** Writes the k-th DDIM noise tensor (steps with t_next ≥ 0, in order) for all samples into `out`. */
  fillZ: (k: number, out: Float32Array) => void | Promise<void>;
  steps?: DdimStep[];
}

/**
 * The six DDIM steps back from x_t, in place: `y` holds x_t on entry and the clamped
 * reconstruction x̂ on return. Chunks of one step run concurrently (each touches only its own
 * samples); steps run in order. The next step's noise is drawn while the model runs the current
 * one: on a GPU, drawing Gaussians in JS costs as much as the UNet itself. Returns the number of
 * denoiser calls made.
 */
export async function ddimReconstruct(y: Float32Array, denoise: DenoiseFn, opts: ReconstructOptions): Promise<number> {
  const { itemSize: D, maxBatch } = opts;
  const n = y.length / D;
  const chunks: [number, number][] = [];
  for (let lo = 0; lo < n; lo += maxBatch) chunks.push([lo, Math.min(n, lo + maxBatch)]);
  const steps = opts.steps ?? ddimSteps();
  let z = new Float32Array(y.length);
  let zNext = new Float32Array(y.length);
  let k = 0;
  if (steps[0]?.tNext >= 0) await opts.fillZ(k++, z);
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    const zStep = step.tNext >= 0 ? z : undefined;
    const pending = Promise.all(chunks.map(async ([lo, hi]) => {
      // slice, not subarray: the pool transfers (detaches) the input buffer.
      const out = await denoise(y.slice(lo * D, hi * D), hi - lo, step.t);
      if (!ddimUpdate(y.subarray(lo * D, hi * D), out, zStep?.subarray(lo * D, hi * D), step)) {
        throw new GateError('MODEL_OUTPUT', `denoiser returned NaN at t = ${step.t}`);
      }
    }));
    // Awaited below; this only keeps a failure during fillZ from counting as unhandled.
    pending.catch(() => {});
    if (steps[i + 1]?.tNext >= 0) await opts.fillZ(k++, zNext);
    await pending;
    [z, zNext] = [zNext, z];
  }
  return steps.length * chunks.length;
}

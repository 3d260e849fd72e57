import { GateError } from '../core/errors.js';
import type { AlignedFace } from '../core/frame.js';
import type { ModelEntry } from '../assets/manifest.js';
import type { ModelRuntime } from '../scorers/runtime.js';
import { cosine } from '../scorers/scorers.js';
import { injectedNoise, seededNoise, type InjectedNoise, type NoiseSource } from './noise.js';
import { ddimReconstruct, poolDenoiser, type DenoiseFn } from './ddim.js';
import { cosineSchedule, ddimSteps, FORWARD_T } from './schedule.js';
import { flipCHW, forwardNoise, packForEmbedder, packImage, UNIT_RANGE } from './tensors.js';

export interface AdaptiveOptions {
  /** Repeats of the first round (≥ 2, so that a spread exists). */
  minRepeats: number;
  maxRepeats: number;
  /** Stop once the standard error of the per-repeat scores, std/√n, is at most this. */
  maxStdErr: number;
  /** Repeats added per later round; defaults to minRepeats. */
  step?: number;
}

export interface DiffusionOptions {
  denoiserId: string;
  embedderId: string;
  /** R: each image and its mirror are perturbed R times (2R samples). Default 10, as published. */
  repeats?: number;
  /** Samples per UNet (and FR) call; several images share a call. Default 160. */
  maxBatch?: number;
  /**
   * Add repeats in rounds until the score's standard error is small enough. Noise is then drawn
   * round by round (layout s = f·k + r per round of k), so an adaptive score is reproducible for its
   * seed but not bit-comparable to a fixed-R score of the same seed, nor to the injected layout.
   */
  adaptive?: AdaptiveOptions;
}

export interface DiffusionInput {
  face: AlignedFace;
  /** Seeds this frame's Gaussian noise (the frame id, usually), so its score is reproducible. */
  seed: string;
  /** Replaces the seeded noise (parity tests); fixed-R mode only. */
  noise?: InjectedNoise;
}

export interface DiffusionResult {
  /** q = mean_r q_r, higher is better. */
  score: number;
  /** Population standard deviation of the per-repeat scores q_r. */
  std: number;
  repeats: number;
  perRepeat: number[];
  /** This image's share of the UNet calls made (samples of several images share a call). */
  unetCalls: number;
  /** This image's share of the call's wall time, by samples. */
  ms: number;
}

interface ImageState {
  x: Float32Array;
  xf: Float32Array;
  noise: NoiseSource;
  eX?: Float32Array;
  /** cos(e(x), e(x^f)), the term shared by every repeat. */
  g: number;
  q: number[];
  samples: number;
  unetCalls: number;
}

interface Models { den: ModelEntry; emb: ModelEntry; size: number; swap: boolean; denoise: DenoiseFn }

const Z_STEPS = ddimSteps().filter((s) => s.tNext >= 0).length;

/**
 * Full DifFIQA (shared/DIFFIQA.md): forward noise at t = 5, six DDIM steps (η = 1) back, for R
 * repeats of the image and of its mirror, scored by the FR model's cosine similarities to the
 * original. The samples of every image in a call travel together through the UNet, `maxBatch`
 * at a time, so a GPU sees few, full batches. Arithmetic rounds as models/tools/diffiqa_ref.py does.
 */
export class DiffusionScorer {
  readonly #rt: ModelRuntime;
  readonly #opts: Required<Omit<DiffusionOptions, 'adaptive'>> & { adaptive?: AdaptiveOptions };

  constructor(rt: ModelRuntime, opts: DiffusionOptions) {
    const repeats = opts.repeats ?? 10;
    const maxBatch = opts.maxBatch ?? 160;
    if (!Number.isInteger(repeats) || repeats < 1) throw new GateError('CONFIG_INVALID', `diffusion repeats must be an integer ≥ 1, got ${repeats}`);
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new GateError('CONFIG_INVALID', `diffusion maxBatch must be an integer ≥ 1, got ${maxBatch}`);
    const a = opts.adaptive;
    if (a && !(Number.isInteger(a.minRepeats) && a.minRepeats >= 2 && Number.isInteger(a.maxRepeats) && a.maxRepeats >= a.minRepeats
      && a.maxStdErr > 0 && (a.step === undefined || (Number.isInteger(a.step) && a.step >= 1)))) {
      throw new GateError('CONFIG_INVALID', `diffusion adaptive needs integers 2 ≤ minRepeats ≤ maxRepeats, step ≥ 1 and maxStdErr > 0, got ${JSON.stringify(a)}`);
    }
    this.#rt = rt;
    this.#opts = { ...opts, repeats, maxBatch };
  }

  async #models(): Promise<Models> {
    const [{ entry: den }, { entry: emb }] = await Promise.all([this.#rt.load(this.#opts.denoiserId), this.#rt.load(this.#opts.embedderId)]);
    // The DDIM arithmetic and the (v+1)/2 hand-over to the FR model assume the [−1,1] contract.
    if (den.normalisation.mean.some((v, c) => v !== UNIT_RANGE.mean[c]) || den.normalisation.std.some((v, c) => v !== UNIT_RANGE.std[c])) {
      throw new GateError('CONFIG_INVALID', `denoiser ${den.id} must take (pixel/255 − 0.5)/0.5 input, manifest says ${JSON.stringify(den.normalisation)}`);
    }
    const size = den.input.shape[3];
    if (emb.input.shape[3] !== size) throw new GateError('CONFIG_INVALID', `embedder ${emb.id} takes ${emb.input.shape[3]} px, denoiser ${den.id} ${size} px`);
    return { den, emb, size, swap: den.input.colorOrder !== emb.input.colorOrder, denoise: poolDenoiser(this.#rt, den, size) };
  }

  async scoreBatch(faces: DiffusionInput[]): Promise<DiffusionResult[]> {
    if (faces.length === 0) return [];
    const t0 = performance.now();
    const m = await this.#models();
    const D = 3 * m.size * m.size;
    const states = faces.map(({ face, seed, noise }): ImageState => {
      if (face.size !== m.size) throw new GateError('INTERNAL', `aligned face is ${face.size} px, denoiser ${m.den.id} takes ${m.size} px`);
      if (noise && this.#opts.adaptive) throw new GateError('USAGE', 'injected noise is for fixed-repeat scoring, not adaptive');
      const x = packImage(face.data, m.size, m.den.normalisation, m.den.input.colorOrder);
      return {
        x, xf: flipCHW(x, m.size), noise: noise ? injectedNoise(noise, D, Z_STEPS) : seededNoise(seed),
        g: NaN, q: [], samples: 0, unetCalls: 0,
      };
    });

    const a = this.#opts.adaptive;
    let active = states;
    for (let round = 0; active.length > 0; round++) {
      const ks = active.map((s) => (a ? (round === 0 ? a.minRepeats : Math.min(a.step ?? a.minRepeats, a.maxRepeats - s.q.length)) : this.#opts.repeats));
      await this.#round(m, active, ks);
      active = a ? active.filter((s) => !converged(s.q, a)) : [];
    }

    const ms = performance.now() - t0;
    const totalSamples = states.reduce((n, s) => n + s.samples, 0);
    return states.map((s) => {
      const { mean, std } = meanStd(s.q);
      return { score: mean, std, repeats: s.q.length, perRepeat: s.q, unetCalls: s.unetCalls, ms: (ms * s.samples) / totalSamples };
    });
  }

  /** One round: k_i repeats of every image in `states`, all samples batched together. */
  async #round(m: Models, states: ImageState[], ks: number[]): Promise<void> {
    const D = 3 * m.size * m.size;
    const offsets: number[] = [];
    let n = 0;
    for (const k of ks) { offsets.push(n); n += 2 * k; }

    // Forward step: x_t for sample s = f·k + r of each image.
    const sched = cosineSchedule().f32;
    const sa = sched.sqrtAlphasCumprod[FORWARD_T], s1m = sched.sqrtOneMinusAlphasCumprod[FORWARD_T];
    const xt = new Float32Array(n * D);
    const eps = new Float32Array(n * D);
    for (const [i, st] of states.entries()) {
      const k = ks[i], o = offsets[i];
      st.noise.fill('eps', 0, k, eps.subarray(o * D, (o + 2 * k) * D));
      for (let s = 0; s < 2 * k; s++) {
        const at = (o + s) * D;
        forwardNoise(s < k ? st.x : st.xf, eps.subarray(at, at + D), sa, s1m, xt.subarray(at, at + D));
      }
      await yieldToLoop();
    }

    const y = xt.slice();
    const fillZ = async (k: number, out: Float32Array) => {
      for (const [i, st] of states.entries()) {
        st.noise.fill('z', k, ks[i], out.subarray(offsets[i] * D, (offsets[i] + 2 * ks[i]) * D));
        await yieldToLoop();
      }
    };
    const calls = await ddimReconstruct(y, m.denoise, { itemSize: D, maxBatch: this.#opts.maxBatch, fillZ });
    states.forEach((st, i) => { st.samples += 2 * ks[i]; st.unetCalls += (calls * 2 * ks[i]) / n; });

    await this.#score(m, states, ks, offsets, xt, y);
  }

  /** Embeds x, x^f (first round only), every x_t and x̂, and appends each image's q_r. */
  async #score(m: Models, states: ImageState[], ks: number[], offsets: number[], xt: Float32Array, xhat: Float32Array): Promise<void> {
    const D = 3 * m.size * m.size;
    const items: Float32Array[] = [];
    const firstAt: number[] = [];
    states.forEach((st, i) => {
      firstAt.push(items.length);
      if (!st.eX) items.push(st.x, st.xf);
      for (const src of [xt, xhat]) {
        for (let s = 0; s < 2 * ks[i]; s++) items.push(src.subarray((offsets[i] + s) * D, (offsets[i] + s + 1) * D));
      }
    });
    const e = await this.#embed(m, items);
    states.forEach((st, i) => {
      let at = firstAt[i];
      if (!st.eX) {
        st.eX = e[at];
        st.g = cosine(e[at], e[at + 1]);
        at += 2;
      }
      const k = ks[i], eX = st.eX;
      const cN = (s: number) => cosine(eX, e[at + s]);
      const cR = (s: number) => cosine(eX, e[at + 2 * k + s]);
      for (let r = 0; r < k; r++) st.q.push((cN(r) + cR(r) + cN(k + r) + cR(k + r) + st.g) / 5);
    });
  }

  async #embed(m: Models, items: Float32Array[]): Promise<Float32Array[]> {
    const { emb, size } = m;
    const D = 3 * size * size;
    const parts = await Promise.all(chunk(items.length, this.#opts.maxBatch).map(async ([lo, hi]) => {
      const data = new Float32Array((hi - lo) * D);
      for (let j = lo; j < hi; j++) packForEmbedder(items[j], emb.normalisation, m.swap, data.subarray((j - lo) * D, (j - lo + 1) * D));
      const out = (await this.#rt.run(emb.id, { [emb.input.name]: { type: 'float32', data, dims: [hi - lo, 3, size, size] } }))[emb.outputs[0]];
      const flat = out?.data;
      if (!(flat instanceof Float32Array) || flat.length === 0 || flat.length % (hi - lo) !== 0 || flat.some((v) => !Number.isFinite(v))) {
        throw new GateError('MODEL_OUTPUT', `embedder ${emb.id} returned no finite float32 embeddings`);
      }
      const dim = flat.length / (hi - lo);
      return Array.from({ length: hi - lo }, (_, j) => flat.subarray(j * dim, (j + 1) * dim));
    }));
    return parts.flat();
  }
}

/** Drawing an image's noise takes tens of ms: let heartbeats and finished model runs through in between. */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function chunk(n: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let lo = 0; lo < n; lo += size) out.push([lo, Math.min(n, lo + size)]);
  return out;
}

/** Mean and population standard deviation, as numpy's mean()/std(). */
export function meanStd(q: readonly number[]): { mean: number; std: number } {
  const mean = q.reduce((a, b) => a + b, 0) / q.length;
  const v = q.reduce((a, b) => a + (b - mean) ** 2, 0) / q.length;
  return { mean, std: Math.sqrt(v) };
}

function converged(q: readonly number[], a: AdaptiveOptions): boolean {
  if (q.length >= a.maxRepeats) return true;
  return q.length >= a.minRepeats && meanStd(q).std / Math.sqrt(q.length) <= a.maxStdErr;
}

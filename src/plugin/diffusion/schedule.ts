/**
 * The diffusion noise schedule DifFIQA was trained with (cosine, s = 0.008, T = 1000), and the
 * six-step DDIM trajectory its inference uses. ᾱ stays float64; every coefficient that multiplies
 * an image is derived from it in float64 and rounded to float32 once, as the parity reference
 * (models/tools/diffiqa_ref.py) does, so that the scorer rounds exactly where the reference does.
 * (The official code derives σ, c and √ᾱ_next in float32 instead: < 1e-6 apart.)
 */

export const TIMESTEPS = 1000;
export const COSINE_S = 0.008;
/** Index of the forward (noising) step. */
export const FORWARD_T = 5;
/** DDIM sampling steps after the forward step (`nof_s` in the official code). */
export const DDIM_STEPS = FORWARD_T + 1;

export interface Schedule {
  /** ᾱ_t in float64, t = 0 … T−1. */
  alphasCumprod: Float64Array;
  /** Per-step float32 coefficients (each derived in float64, rounded once). */
  f32: {
    alphasCumprod: Float32Array;
    sqrtAlphasCumprod: Float32Array;
    sqrtOneMinusAlphasCumprod: Float32Array;
    sqrtRecipAlphasCumprod: Float32Array;
    sqrtRecipm1AlphasCumprod: Float32Array;
  };
}

/** Betas of the cosine schedule (Nichol & Dhariwal), clipped to [0, 0.999], float64. */
export function cosineBetas(timesteps = TIMESTEPS, s = COSINE_S): Float64Array {
  const f = new Float64Array(timesteps + 1);
  for (let i = 0; i <= timesteps; i++) {
    // linspace(0, T, T+1) is exactly the integers.
    const c = Math.cos(((i / timesteps + s) / (1 + s)) * Math.PI * 0.5);
    f[i] = c * c;
  }
  const f0 = f[0];
  const betas = new Float64Array(timesteps);
  for (let i = 0; i < timesteps; i++) {
    const b = 1 - (f[i + 1] / f0) / (f[i] / f0);
    betas[i] = Math.min(Math.max(b, 0), 0.999);
  }
  return betas;
}

let cached: Schedule | undefined;

/** The schedule, computed once. */
export function cosineSchedule(): Schedule {
  if (cached) return cached;
  const betas = cosineBetas();
  const n = betas.length;
  const ac = new Float64Array(n);
  let prod = 1;
  // Sequential product, as torch.cumprod on float64 does it.
  for (let i = 0; i < n; i++) { prod *= 1 - betas[i]; ac[i] = prod; }
  const derive = (fn: (a: number) => number): Float32Array => Float32Array.from(ac, fn);
  cached = {
    alphasCumprod: ac,
    f32: {
      alphasCumprod: derive((a) => a),
      sqrtAlphasCumprod: derive(Math.sqrt),
      sqrtOneMinusAlphasCumprod: derive((a) => Math.sqrt(1 - a)),
      sqrtRecipAlphasCumprod: derive((a) => 1 / Math.sqrt(a)),
      sqrtRecipm1AlphasCumprod: derive((a) => Math.sqrt(1 / a - 1)),
    },
  };
  return cached;
}

/**
 * DDIM (t, t_next) pairs: `int(linspace(−1, forwardT − 1, steps + 1))` reversed, i.e. for t = 5
 * (4,3) (3,2) (2,1) (1,0) (0,0) (0,−1). The off-by-one (noised at 5, first denoised at 4) and the
 * repeated 0 are the official code's; they are kept so scores match it.
 */
export function ddimTimePairs(forwardT = FORWARD_T, steps = DDIM_STEPS): [number, number][] {
  const end = forwardT - 1;
  const times: number[] = [];
  for (let i = 0; i <= steps; i++) {
    // torch.linspace in float32, then .int() truncates toward zero.
    const v = Math.fround(-1 + ((end + 1) * i) / steps);
    // `| 0` rather than Math.trunc: no −0 from the values in (−1, 0).
    times.push(v | 0);
  }
  times.reverse();
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < times.length; i++) pairs.push([times[i], times[i + 1]]);
  return pairs;
}

/** Per-step DDIM coefficients (η = 1): float64 from float64 ᾱ, each rounded once to float32. */
export interface DdimStep {
  t: number;
  tNext: number;
  /** 1/√ᾱ_t and √(1/ᾱ_t − 1): ε̂ = (y/√ᾱ_t − x̂₀) / √(1/ᾱ_t − 1). */
  sqrtRecip: number;
  sqrtRecipm1: number;
  /** Only when tNext ≥ 0: y' = x̂₀·√ᾱ_next + c·ε̂ + σ·z. */
  sqrtAlphaNext: number;
  c: number;
  sigma: number;
}

export function ddimSteps(eta = 1, forwardT = FORWARD_T): DdimStep[] {
  const { alphasCumprod: ac, f32 } = cosineSchedule();
  const f = Math.fround;
  return ddimTimePairs(forwardT).map(([t, tNext]) => {
    const step: DdimStep = { t, tNext, sqrtRecip: f32.sqrtRecipAlphasCumprod[t], sqrtRecipm1: f32.sqrtRecipm1AlphasCumprod[t], sqrtAlphaNext: 0, c: 0, sigma: 0 };
    if (tNext < 0) return step;
    const a = ac[t], an = ac[tNext];
    const sigma = eta * Math.sqrt(((1 - a / an) * (1 - an)) / (1 - a));
    step.sigma = f(sigma);
    step.c = f(Math.sqrt(1 - an - sigma * sigma));
    step.sqrtAlphaNext = f(Math.sqrt(an));
    return step;
  });
}

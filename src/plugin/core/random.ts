import { GateError } from './errors.js';

/**
 * A small seedable generator: mulberry32 for the uniform stream, Box-Muller for normals.
 * Used where results must be reproducible per frame (DifFIQA noise, the random baseline,
 * impostor sampling). Not cryptographic; its state has 32 bits, so at most 2^32 distinct streams.
 */
export interface Rng {
  /** Uniform float64 in [0, 1) with 53 random bits (two 32-bit draws). */
  uniform(): number;
  /** Uniform integer in [0, n), for n in [1, 2^32]. */
  int(n: number): number;
  /** Standard normal float64. */
  normal(): number;
  /**
   * Fills `arr` with standard normals. Gives exactly the values that successive normal() calls
   * would give (rounded to float32), so batched and one-by-one noise agree.
   */
  fillNormal(arr: Float32Array | Float64Array): void;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** FNV-1a over the UTF-16 code units, 32-bit. */
export function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A uint32 number seed is the generator state itself; any other finite number and every
 * string is hashed (FNV-1a of its text), so `createRng(7)` and `createRng('7')` differ.
 */
export function createRng(seed: number | string): Rng {
  let state: number;
  if (typeof seed === 'string') state = hashSeed(seed);
  else if (Number.isInteger(seed) && seed >= 0 && seed < TWO_POW_32) state = seed;
  else if (Number.isFinite(seed)) state = hashSeed(String(seed));
  else throw new GateError('USAGE', `RNG seed must be finite, got ${seed}`);

  const next32 = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const uniform = (): number => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / TWO_POW_53;

  // Box-Muller makes normals in pairs; the second waits here for the next call.
  let spare = 0;
  let hasSpare = false;
  const normal = (): number => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    // 1 - uniform() is in (0, 1]: log never sees 0.
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    hasSpare = true;
    return r * Math.cos(theta);
  };

  return {
    uniform,
    int(n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) throw new GateError('USAGE', `int(n) needs an integer n in [1, 2^32], got ${n}`);
      return Math.floor(uniform() * n);
    },
    normal,
    fillNormal(arr: Float32Array | Float64Array): void {
      let i = 0;
      if (hasSpare && arr.length > 0) arr[i++] = normal();
      // Pairs written directly: avoids the spare bookkeeping on the hot path.
      for (; i + 1 < arr.length; i += 2) {
        const r = Math.sqrt(-2 * Math.log(1 - uniform()));
        const theta = 2 * Math.PI * uniform();
        arr[i] = r * Math.cos(theta);
        arr[i + 1] = r * Math.sin(theta);
      }
      if (i < arr.length) arr[i] = normal();
    },
  };
}

import { GateError } from '../core/errors.js';
import { createRng } from '../core/random.js';

/**
 * Noise for one image and R repeats, in the reference's layout: sample s = f·R + r (f = 0 the
 * original, f = 1 the flipped image), `eps` [2R,3,H,W] for the forward step, then one `z`
 * [2R,3,H,W] per DDIM step with t_next ≥ 0, in step order (the σ = 0 step still has its own z).
 */
export interface InjectedNoise {
  eps: Float32Array;
  z: Float32Array[];
}

/** Fills noise regions in the order the scorer asks for them: per round eps, then z₀, z₁, … */
export interface NoiseSource {
  fill(kind: 'eps' | 'z', step: number, repeats: number, out: Float32Array): void;
}

/**
 * Gaussian noise from the frame's own seeded stream, drawn in exactly the injected layout's order,
 * so a seed fixes the score and two frames never share noise.
 */
export function seededNoise(seed: string | number): NoiseSource {
  const rng = createRng(seed);
  return { fill: (_kind, _step, _repeats, out) => rng.fillNormal(out) };
}

/** Replays injected noise (parity tests); the repeat count must be exactly the injected one. */
export function injectedNoise(noise: InjectedNoise, itemSize: number, zSteps: number): NoiseSource {
  const repeats = noise.eps.length / (2 * itemSize);
  if (!Number.isInteger(repeats) || repeats < 1) throw new GateError('USAGE', `injected eps holds ${noise.eps.length} values, not a multiple of 2·${itemSize}`);
  if (noise.z.length !== zSteps || noise.z.some((z) => z.length !== noise.eps.length)) {
    throw new GateError('USAGE', `injected noise needs ${zSteps} z tensors of ${noise.eps.length} values each`);
  }
  let used = false;
  return {
    fill(kind, step, r, out) {
      if (r !== repeats) throw new GateError('USAGE', `injected noise is for ${repeats} repeats, scorer asked for ${r}`);
      if (kind === 'eps') {
        if (used) throw new GateError('USAGE', 'injected noise covers one round only (not adaptive mode)');
        used = true;
        out.set(noise.eps);
      } else {
        out.set(noise.z[step]);
      }
    },
  };
}

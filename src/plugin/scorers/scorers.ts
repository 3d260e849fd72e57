import type { AlignedFace, ScoreResult } from '../core/frame.js';
import { GateError } from '../core/errors.js';
import type { ModelRuntime } from './runtime.js';

/** DifFIQA(R)-style regressor: aligned crop → scalar quality (higher is better). */
export class RegressScorer {
  readonly #rt: ModelRuntime;
  readonly modelId: string;

  constructor(rt: ModelRuntime, modelId: string) {
    this.#rt = rt;
    this.modelId = modelId;
  }

  async score(face: AlignedFace): Promise<ScoreResult> {
    // The model that ran the batch names the score, so a swap mid-stream labels every frame right.
    const { outputs: out, model: { entry, provider } } = await this.#rt.batcher(this.modelId).submitWith(face.data);
    const value = out[entry.outputs[0]]?.[0];
    if (value === undefined || !Number.isFinite(value)) throw new GateError('MODEL_OUTPUT', `${this.modelId} returned a non-finite score`);
    return { score: value, modelId: entry.id, modelVersion: entry.version, executionProvider: provider };
  }
}

/** Face-recognition embedder: aligned crop → raw embedding (cosine makes scale irrelevant). */
export class EmbedScorer {
  readonly #rt: ModelRuntime;
  readonly modelId: string;

  constructor(rt: ModelRuntime, modelId: string) {
    this.#rt = rt;
    this.modelId = modelId;
  }

  async embed(face: AlignedFace): Promise<Float32Array> {
    const { entry } = this.#rt.pool.model(this.modelId);
    const out = await this.#rt.batcher(this.modelId).submit(face.data);
    const e = out[entry.outputs[0]];
    if (!e || e.some((v) => !Number.isFinite(v))) throw new GateError('MODEL_OUTPUT', `${this.modelId} returned a non-finite embedding`);
    return e;
  }
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.sqrt(na * nb);
}

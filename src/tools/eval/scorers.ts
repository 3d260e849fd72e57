import { findModel, type Manifest } from '../../plugin/assets/manifest.js';
import { GateError } from '../../plugin/core/errors.js';
import type { AlignedFace, Landmarks5 } from '../../plugin/core/frame.js';
import { DiffusionScorer } from '../../plugin/diffusion/scorer.js';
import type { ModelRuntime } from '../../plugin/scorers/runtime.js';
import { RegressScorer } from '../../plugin/scorers/scorers.js';
import { scoreBaseline, type BaselineName } from './baselines.js';

/** Command-line names of the baselines (kebab-case, as flags are) → baselines.ts names. */
export const BASELINES = {
  random: 'random',
  sharpness: 'sharpness',
  brightness: 'brightnessContrast',
  'face-size': 'faceSize',
  'embedding-norm': 'embeddingNorm',
} as const satisfies Record<string, BaselineName>;

export const DIFFIQA_PREFIX = 'diffiqa:';

/** One prepared image as the scorers see it. */
export interface Sample {
  /** Path relative to the data folder: also the frame id that seeds random and DifFIQA noise. */
  file: string;
  eyeDistance: number;
  landmarks: Landmarks5;
  detectorScore?: number;
}

export interface ScoreBatch {
  samples: Sample[];
  /** Aligned faces, only when the scorer says `needsFaces`. */
  faces?: Uint8Array[];
  embeddings: Float32Array[];
  size: number;
}

export interface EvalScorer {
  /** As given on the command line. */
  readonly id: string;
  /** Cache key: changes whenever the scorer would give other numbers (model file, repeats, formula). */
  readonly key: string;
  readonly needsFaces: boolean;
  /** Images per score() call. */
  readonly batchSize: number;
  score(batch: ScoreBatch): Promise<number[]>;
}

export interface ScorerContext {
  manifest: Manifest;
  /** Started on first use: a rerun served from the cache never starts the models. */
  runtime: () => ModelRuntime;
  embedderId: string;
  /** DifFIQA perturbation repeats. */
  repeats: number;
}

/** Baseline formulas are versioned by hand: bump when one changes, so caches do not serve old numbers. */
const BASELINE_VERSION = 'v1';

export function alignedFace(sample: Sample, data: Uint8Array, size: number): AlignedFace {
  return { size, data, landmarkSource: 'detector', landmarks: sample.landmarks, detectorScore: sample.detectorScore, eyeDistance: sample.eyeDistance };
}

function baseline(id: keyof typeof BASELINES): EvalScorer {
  const name = BASELINES[id];
  const needsFaces = name === 'sharpness' || name === 'brightnessContrast';
  return {
    id,
    key: `${id}@${BASELINE_VERSION}`,
    needsFaces,
    batchSize: 64,
    async score({ samples, faces, embeddings, size }) {
      return samples.map((s, i) => scoreBaseline(name, {
        frameId: s.file,
        face: faces ? { size, data: faces[i] } : undefined,
        eyeDistance: s.eyeDistance,
        embedding: embeddings[i],
      }));
    },
  };
}

function regressor(id: string, ctx: ScorerContext, sha: string): EvalScorer {
  let scorer: Promise<RegressScorer> | undefined;
  return {
    id,
    key: `${id}@${sha.slice(0, 12)}`,
    needsFaces: true,
    batchSize: 64,
    async score({ samples, faces, size }) {
      scorer ??= (async () => {
        const rt = ctx.runtime();
        await rt.load(id);
        return new RegressScorer(rt, id);
      })();
      const s = await scorer;
      // Submitted together so the micro-batcher fills its batches.
      return Promise.all(samples.map(async (sample, i) => (await s.score(alignedFace(sample, faces![i], size))).score));
    },
  };
}

function diffiqa(id: string, ctx: ScorerContext): EvalScorer {
  const denoiserId = id.slice(DIFFIQA_PREFIX.length);
  const den = findModel(ctx.manifest, denoiserId);
  if (den.role !== 'denoiser') throw new GateError('USAGE', `scorer ${id}: model "${denoiserId}" has role ${den.role}, not denoiser`);
  const emb = findModel(ctx.manifest, ctx.embedderId);
  let scorer: DiffusionScorer | undefined;
  return {
    id,
    key: `${id}@${den.sha256.slice(0, 12)}+${emb.id}@${emb.sha256.slice(0, 12)}/r${ctx.repeats}`,
    needsFaces: true,
    // 8 images × 20 samples fill DiffusionScorer's default UNet batch of 160.
    batchSize: 8,
    async score({ samples, faces, size }) {
      scorer ??= new DiffusionScorer(ctx.runtime(), { denoiserId, embedderId: ctx.embedderId, repeats: ctx.repeats });
      const results = await scorer.scoreBatch(samples.map((s, i) => ({ face: alignedFace(s, faces![i], size), seed: s.file })));
      return results.map((r) => r.score);
    },
  };
}

/**
 * Command-line scorer ids → scorers: a baseline name, `diffiqa:<denoiser id>` (full DifFIQA) or
 * the manifest id of a model with role regressor. Unknown ids are usage errors naming the choices.
 */
export function resolveScorers(ids: readonly string[], ctx: ScorerContext): EvalScorer[] {
  const seen = new Set<string>();
  return ids.map((id) => {
    if (seen.has(id)) throw new GateError('USAGE', `scorer ${id} is listed twice`);
    seen.add(id);
    if (id in BASELINES) return baseline(id as keyof typeof BASELINES);
    if (id.startsWith(DIFFIQA_PREFIX)) return diffiqa(id, ctx);
    const entry = ctx.manifest.models.find((m) => m.id === id);
    if (entry?.role === 'regressor') return regressor(id, ctx, entry.sha256);
    const regressors = ctx.manifest.models.filter((m) => m.role === 'regressor').map((m) => m.id);
    throw new GateError('USAGE', `unknown scorer "${id}": expected one of ${Object.keys(BASELINES).join(', ')}, ${DIFFIQA_PREFIX}<denoiser id>, or a regressor model id${regressors.length ? ` (${regressors.join(', ')})` : ' (the manifest has none)'}`);
  });
}

import { GateError, type ErrorCode } from '../core/errors.js';
import type { Frame, Landmarks5, ScoreResult } from '../core/frame.js';
import type { Stage } from '../core/stage.js';
import { buildConfig, Config } from '../config/load.js';
import { DiffusionStage } from '../escalation/stages.js';
import { Backpressure } from '../pipeline/backpressure.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { DecideStage } from '../pipeline/stages/decide.js';
import { PolicySwitch } from '../config/cameras.js';
import { PrepareStage, prepareOptions } from '../pipeline/stages/prepare.js';
import { RegressStage } from '../pipeline/stages/regress.js';
import { RegressScorer } from '../scorers/scorers.js';
import { diffusionScorerFromConfig, runtimeFromConfig } from './runtime.js';

/**
 * inline: the DifFIQA(R) regressor, decided with `gate.accept` / `gate.reject` (milliseconds a face).
 * full: full DifFIQA (diffusion + FR embeddings; seconds a face on a CPU), decided with `escalation.*`.
 * cascade: the regressor for every face, full DifFIQA for the borderline ones only (what the gate
 * and its escalation stage do together).
 */
export type ScoringMode = 'inline' | 'full' | 'cascade';

export interface QualityScorerOptions {
  /** A loaded configuration, or flat keys over the defaults (`{ 'models.regressor': 'x' }`); env is read as the CLI does. */
  config?: Config | Record<string, unknown>;
  /** Default inline. */
  mode?: ScoringMode;
}

/** A face crop to score: JPEG, PNG or WebP bytes, and its 5 landmarks when known (else the detector finds the face). */
export interface ImageInput {
  bytes: Buffer | Uint8Array;
  /** Returned in the result and seeds full DifFIQA's noise (same id, same score). Default: the input's index. */
  id?: string;
  landmarks?: Landmarks5 | null;
}

export interface QualityResult {
  id: string;
  /** The final score: full DifFIQA's where it ran, else the regressor's. Absent when `error` is set. */
  score?: number;
  decision?: 'ACCEPT' | 'REJECT' | 'BORDERLINE';
  inline?: ScoreResult;
  full?: ScoreResult & { repeats: number; unetCalls: number };
  /** Bad input or a failed inference: a coded error (see `errorCodes`), never a throw. */
  error?: { code: ErrorCode; message: string; canRetry: boolean };
  /** Milliseconds per step. */
  timings: Record<string, number>;
}

/**
 * Scores face images or frames with the product's own stages (decode, align, regress, decide,
 * full DifFIQA). Also a `Stage` (name `quality`), to run inside a pipeline of frames.
 */
export interface QualityScorer extends Stage {
  readonly mode: ScoringMode;
  /** One result per input, in order. Inputs are scored concurrently so that batches fill. */
  score(inputs: readonly (ImageInput | Buffer)[], signal?: AbortSignal): Promise<QualityResult[]>;
  /** Fills `regression` / `full` / `decision` of frames that carry `image`; a failing frame gets `error`. */
  process(frames: Frame[], signal?: AbortSignal): Promise<Frame[]>;
  /** Frees the models and worker threads. Idempotent. */
  close(): Promise<void>;
}

/** Loads the models the mode needs (fails fast with a coded error), then scores. */
export async function createQualityScorer(opts: QualityScorerOptions = {}): Promise<QualityScorer> {
  const cfg = opts.config instanceof Config ? opts.config : buildConfig({}, process.env, opts.config ?? {});
  const mode = opts.mode ?? 'inline';
  if (!['inline', 'full', 'cascade'].includes(mode)) throw new GateError('USAGE', `mode must be inline, full or cascade, got ${String(mode)}`);
  const rt = runtimeFromConfig(cfg);
  try {
    await rt.load(cfg.get('models.detector'));
    const stages: Stage[] = [new PrepareStage(rt, prepareOptions(cfg))];
    if (mode !== 'full') {
      const regressorId = cfg.get('models.regressor');
      await rt.load(regressorId);
      stages.push(new RegressStage(new RegressScorer(rt, regressorId), new Backpressure(rt.batcher(regressorId))), new DecideStage(new PolicySwitch(cfg.cameras)));
    }
    if (mode !== 'inline') {
      const { entry, provider } = await rt.load(cfg.get('models.denoiser'));
      await rt.load(cfg.get('models.embedder'));
      const full = new DiffusionStage(diffusionScorerFromConfig(cfg, rt, entry.id), { id: entry.id, version: entry.version, provider },
        { policy: new PolicySwitch(cfg.cameras), maxAgeMs: 0 });
      stages.push(mode === 'cascade' ? onlyBorderline(full) : full);
    }
    return new Scorer(mode, new Pipeline(stages), async () => rt.close(), cfg.get('inference.maxBatch') * rt.pool.workerCount);
  } catch (err) {
    await rt.close();
    throw err;
  }
}

/** Runs `inner` on the frames the regressor left BORDERLINE; the others pass untouched. */
function onlyBorderline(inner: Stage): Stage {
  return {
    name: inner.name,
    async process(frames, signal) {
      const borderline = frames.filter((f) => f.decision === 'BORDERLINE');
      if (borderline.length) await inner.process(borderline, signal);
      return frames;
    },
    close: () => inner.close(),
  };
}

class Scorer implements QualityScorer {
  readonly name = 'quality';
  readonly mode: ScoringMode;
  readonly #pipeline: Pipeline;
  readonly #release: () => Promise<void>;
  /** Frames in one pipeline run: a full batch per worker, as the gate keeps in flight. */
  readonly #chunk: number;
  #closed?: Promise<void>;

  constructor(mode: ScoringMode, pipeline: Pipeline, release: () => Promise<void>, chunk: number) {
    this.mode = mode;
    this.#pipeline = pipeline;
    this.#release = release;
    this.#chunk = Math.max(1, chunk);
  }

  async score(inputs: readonly (ImageInput | Buffer)[], signal?: AbortSignal): Promise<QualityResult[]> {
    const frames = inputs.map((input, i): Frame => {
      const { bytes, id, landmarks } = Buffer.isBuffer(input) ? { bytes: input, id: undefined, landmarks: undefined } : input;
      return { id: id ?? String(i), cameraId: 'library', image: { bytes: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) }, landmarks, timings: {}, receivedAt: performance.now() };
    });
    await this.process(frames, signal);
    return frames.map(resultOf);
  }

  async process(frames: Frame[], signal: AbortSignal = new AbortController().signal): Promise<Frame[]> {
    if (this.#closed) throw new GateError('INFER_CLOSED', 'the quality scorer is closed');
    for (let i = 0; i < frames.length; i += this.#chunk) await this.#pipeline.run(frames.slice(i, i + this.#chunk), signal);
    return frames;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => { await this.#pipeline.close(); await this.#release(); })();
    return this.#closed;
  }
}

function resultOf(f: Frame): QualityResult {
  if (f.error) return { id: f.id, error: { code: f.error.code, message: f.error.message, canRetry: f.error.canRetry }, timings: f.timings };
  const r: QualityResult = { id: f.id, score: (f.full ?? f.regression)?.score, decision: f.decision, timings: f.timings };
  if (f.regression) r.inline = f.regression;
  if (f.full) r.full = f.full;
  return r;
}

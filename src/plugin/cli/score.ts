import { readFile } from 'node:fs/promises';
import { GateError, toGateError } from '../core/errors.js';
import { loadConfigFile, type Config } from '../config/load.js';
import type { AlignedFace, Frame } from '../core/frame.js';
import { DiffusionScorer } from '../diffusion/scorer.js';
import type { ModelRuntime } from '../scorers/runtime.js';
import { RegressScorer } from '../scorers/scorers.js';
import { PrepareStage, prepareOptions } from '../pipeline/stages/prepare.js';
import { listImages } from '../core/files.js';
import { Progress } from '../core/progress.js';
import { runtimeFromConfig } from '../app/runtime.js';
import { flagString, isCount, numberFlag, type Parsed } from './args.js';
import { EXIT } from './exit.js';

export interface ScoreArgs {
  inputs: string[];
  /** A regressor's manifest id, or `diffiqa:<denoiser id>` for full DifFIQA. */
  model?: string;
  format: 'jsonl' | 'csv';
  concurrency?: number;
  /** Full DifFIQA's perturbation repeats; default escalation.repeats. */
  repeats?: number;
}

const DIFFIQA = 'diffiqa:';

interface FaceScorer {
  score(face: AlignedFace, seed: string): Promise<{ score: number; model: string; repeats?: number; std?: number }>;
  /** Images in flight. */
  concurrency: number;
}

/** The regressor, or with `diffiqa:<denoiser>` full DifFIQA (its noise seeded by the file, so a rerun gives the same score). */
async function faceScorer(rt: ModelRuntime, cfg: Config, modelId: string, args: ScoreArgs): Promise<FaceScorer> {
  if (!modelId.startsWith(DIFFIQA)) {
    await rt.load(modelId);
    const scorer = new RegressScorer(rt, modelId);
    return {
      // A full batch in flight per worker: with fewer, the workers beyond the first wait for
      // delay-triggered part batches (measured by the bench's peer section).
      concurrency: args.concurrency ?? cfg.get('inference.maxBatch') * rt.pool.workerCount,
      async score(face) { const r = await scorer.score(face); return { score: r.score, model: `${r.modelId}@${r.modelVersion}` }; },
    };
  }
  const denoiserId = modelId.slice(DIFFIQA.length);
  if (!denoiserId) throw new GateError('MODEL_UNKNOWN', `--model ${modelId} needs a denoiser id: ${DIFFIQA}<denoiser id>`);
  const { entry } = await rt.load(denoiserId);
  if (entry.role !== 'denoiser') throw new GateError('MODEL_UNKNOWN', `--model ${modelId}: ${denoiserId} is a ${entry.role}, not a denoiser`);
  await rt.load(cfg.get('models.embedder'));
  const repeats = args.repeats ?? cfg.get('escalation.repeats');
  const diffusion = new DiffusionScorer(rt, { denoiserId, embedderId: cfg.get('models.embedder'), repeats });
  return {
    // One image is already 2R samples in a UNet call; two per worker keep the workers busy.
    concurrency: args.concurrency ?? 2 * rt.pool.workerCount,
    async score(face, seed) {
      const [r] = await diffusion.scoreBatch([{ face, seed }]);
      return { score: r.score, model: `${DIFFIQA}${entry.id}@${entry.version}`, repeats: r.repeats, std: r.std };
    },
  };
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * `diffiqa-gate score`: one line per image on stdout. An unreadable image is a line with a
 * reason code, never a crash; the exit code is non-zero only for usage errors.
 */
export async function scoreCommand(args: ScoreArgs, cfg: Config, write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<{ ok: number; failed: number }> {
  if (args.inputs.length === 0) throw new GateError('USAGE', 'score needs at least one file or folder');
  const files = await listImages(args.inputs);
  const rt = runtimeFromConfig(cfg);
  const modelId = args.model ?? cfg.get('models.regressor');
  try {
    const scorer = await faceScorer(rt, cfg, modelId, args);
    await rt.load(cfg.get('models.detector'));
    const prep = new PrepareStage(rt, prepareOptions(cfg));
    if (args.format === 'csv') write('file,score,model,ms,reason,message');
    const progress = new Progress(files.length, 'scoring');
    let ok = 0, failed = 0;
    const concurrency = scorer.concurrency;
    let next = 0;
    const results: (string | undefined)[] = new Array(files.length);
    let flushed = 0;
    // Images are scored concurrently (so batches fill) but printed in input order.
    const flush = () => { while (flushed < files.length && results[flushed] !== undefined) { write(results[flushed]!); results[flushed] = ''; flushed++; } };
    async function worker(): Promise<void> {
      for (let i = next++; i < files.length; i = next++) {
        const file = files[i];
        const t0 = performance.now();
        let row: Record<string, unknown>;
        try {
          const bytes = await readFile(file).catch((err) => { throw new GateError('INPUT_IMAGE_DECODE', `cannot read ${file}: ${(err as Error).message}`); });
          const frame: Frame = { id: file, cameraId: 'cli', image: { bytes }, timings: {}, receivedAt: t0 };
          await prep.process([frame]);
          if (frame.error) throw frame.error;
          const { score, model, ...full } = await scorer.score(frame.aligned!, file);
          row = { file, score, model, ...full, ms: round(performance.now() - t0) };
          ok++;
        } catch (err) {
          const e = toGateError(err);
          row = { file, score: null, model: modelId, ms: round(performance.now() - t0), reason: e.code, message: e.message };
          failed++;
        }
        results[i] = args.format === 'csv' ? [row.file, row.score, row.model, row.ms, row.reason, row.message].map(csvCell).join(',') : JSON.stringify(row);
        flush();
        progress.tick();
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
    progress.end();
    return { ok, failed };
  } finally {
    await rt.close();
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** `diffiqa-gate score <files|folders...> [--model ID] [--repeats R] [--format jsonl|csv] [--config FILE]`. */
export default async function score(p: Parsed): Promise<number> {
  const format = (flagString(p, 'format') ?? 'jsonl') as ScoreArgs['format'];
  const cfg = loadConfigFile(flagString(p, 'config'));
  await scoreCommand({ inputs: p.positional, model: flagString(p, 'model'), format, repeats: numberFlag(p, 'repeats', isCount) }, cfg);
  return EXIT.ok;
}

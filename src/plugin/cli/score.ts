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
    // A denoiser or an embedder gives an output, but not a quality score: refused before any image.
    const { role } = rt.entry(modelId);
    if (role !== 'regressor') {
      const hint = role === 'denoiser' ? `; for full DifFIQA with it: --model ${DIFFIQA}${modelId}` : '';
      throw new GateError('USAGE', `--model ${modelId} is ${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}, not a quality regressor${hint}`);
    }
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

/** What a score run did: images scored, files that failed (in input order), and the wall time. */
export interface ScoreSummary { ok: number; failed: number; failures: { file: string; reason: string }[]; wallMs: number; concurrency: number }

/**
 * `diffiqa-gate score`: one line per input file on stdout, in input order: every file named, and
 * every file in the folders named (not only those named like images). A file that cannot be scored
 * is a line with a reason code (FILE_NOT_FOUND, INPUT_IMAGE_FORMAT, …), never a crash.
 * `latencyMs` is a file's time from read to score while up to `concurrency` files share the
 * batches: a latency, not the cost of one image (that is the summary's wall time per image).
 */
export async function scoreCommand(args: ScoreArgs, cfg: Config, write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<ScoreSummary> {
  if (args.inputs.length === 0) throw new GateError('USAGE', 'score needs at least one file or folder');
  const files = await listImages(args.inputs, { everyFile: true });
  const rt = runtimeFromConfig(cfg);
  const modelId = args.model ?? cfg.get('models.regressor');
  try {
    const scorer = await faceScorer(rt, cfg, modelId, args);
    await rt.load(cfg.get('models.detector'));
    const prep = new PrepareStage(rt, prepareOptions(cfg));
    if (args.format === 'csv') write('file,score,model,latencyMs,reason,message');
    const progress = new Progress(files.length, 'scoring');
    const t0 = performance.now();
    let ok = 0;
    const failures: ScoreSummary['failures'] = [];
    const concurrency = Math.min(scorer.concurrency, files.length);
    let next = 0;
    const results: (string | undefined)[] = new Array(files.length);
    const failed: (ScoreSummary['failures'][number] | undefined)[] = new Array(files.length);
    let flushed = 0;
    // Images are scored concurrently (so batches fill) but printed in input order.
    const flush = () => { while (flushed < files.length && results[flushed] !== undefined) { write(results[flushed]!); results[flushed] = ''; flushed++; } };
    async function worker(): Promise<void> {
      for (let i = next++; i < files.length; i = next++) {
        const file = files[i];
        const start = performance.now();
        let row: Record<string, unknown>;
        try {
          const frame: Frame = { id: file, cameraId: 'cli', image: { bytes: await readInput(file) }, timings: {}, receivedAt: start };
          await prep.process([frame]);
          if (frame.error) throw frame.error;
          const { score, model, ...full } = await scorer.score(frame.aligned!, file);
          row = { file, score, model, ...full, latencyMs: round(performance.now() - start) };
          ok++;
        } catch (err) {
          const e = toGateError(err);
          row = { file, score: null, model: modelId, latencyMs: round(performance.now() - start), reason: e.code, message: e.message };
          failed[i] = { file, reason: e.code };
        }
        results[i] = args.format === 'csv' ? [row.file, row.score, row.model, row.latencyMs, row.reason, row.message].map(csvCell).join(',') : JSON.stringify(row);
        flush();
        progress.tick();
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker));
    progress.end();
    for (const f of failed) if (f) failures.push(f);
    return { ok, failed: failures.length, failures, wallMs: performance.now() - t0, concurrency };
  } finally {
    await rt.close();
  }
}

async function readInput(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new GateError('FILE_NOT_FOUND', `no such file: ${file}`);
    throw new GateError('INPUT_IMAGE_DECODE', `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The summary on stderr: counts, the cost per image, and the files that failed by reason. */
export function scoreSummary(s: ScoreSummary, maxListed = 20): string {
  const total = s.ok + s.failed;
  const perImage = total ? s.wallMs / total : 0;
  const lines = [`score: ${s.ok} of ${total} files scored, ${s.failed} failed; ${(s.wallMs / 1000).toFixed(1)} s wall, ${perImage.toFixed(1)} ms a file at concurrency ${s.concurrency} (latencyMs per line is under that concurrency)`];
  if (s.failed) {
    const byReason = new Map<string, number>();
    for (const f of s.failures) byReason.set(f.reason, (byReason.get(f.reason) ?? 0) + 1);
    lines.push(`  failed by reason: ${[...byReason].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    for (const f of s.failures.slice(0, maxListed)) lines.push(`  ${f.reason}  ${f.file}`);
    if (s.failures.length > maxListed) lines.push(`  … and ${s.failures.length - maxListed} more (the lines with a reason on stdout)`);
  }
  return lines.join('\n') + '\n';
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** `diffiqa-gate score <files|folders...> [--model ID] [--repeats R] [--format jsonl|csv] [--config FILE]`: exit 0 when every file was scored, 1 when some failed, 2 for usage errors. */
export default async function score(p: Parsed): Promise<number> {
  const format = (flagString(p, 'format') ?? 'jsonl') as ScoreArgs['format'];
  const cfg = loadConfigFile(flagString(p, 'config'));
  const summary = await scoreCommand({ inputs: p.positional, model: flagString(p, 'model'), format, repeats: numberFlag(p, 'repeats', isCount) }, cfg);
  process.stderr.write(scoreSummary(summary));
  // Every line is printed either way; a script learns from the exit code that some file failed.
  return summary.failed ? EXIT.failure : EXIT.ok;
}

import { readFile } from 'node:fs/promises';
import { GateError, toGateError } from '../core/errors.js';
import type { Config } from '../config/load.js';
import type { Frame } from '../core/frame.js';
import { RegressScorer } from '../scorers/scorers.js';
import { PrepareStage, prepareOptions } from '../pipeline/stages/prepare.js';
import { listImages } from '../core/files.js';
import { Progress } from '../core/progress.js';
import { runtimeFromConfig } from '../app/runtime.js';

export interface ScoreArgs { inputs: string[]; model?: string; format: 'jsonl' | 'csv'; concurrency?: number }

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
    await rt.load(modelId);
    await rt.load(cfg.get('models.detector'));
    const scorer = new RegressScorer(rt, modelId);
    const prep = new PrepareStage(rt, prepareOptions(cfg));
    if (args.format === 'csv') write('file,score,model,ms,reason,message');
    const progress = new Progress(files.length, 'scoring');
    let ok = 0, failed = 0;
    // A full batch in flight per worker: with fewer, the workers beyond the first wait for
    // delay-triggered part batches (measured by the bench's peer section).
    const concurrency = args.concurrency ?? cfg.get('inference.maxBatch') * rt.pool.workerCount;
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
          const r = await scorer.score(frame.aligned!);
          row = { file, score: r.score, model: `${r.modelId}@${r.modelVersion}`, ms: round(performance.now() - t0) };
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

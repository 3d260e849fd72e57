import { existsSync } from 'node:fs';
import { appendFile, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../plugin/config/load.js';
import { DiffusionScorer } from '../../plugin/diffusion/scorer.js';
import { runtimeFromConfig } from '../../plugin/app/runtime.js';
import { Progress } from '../../plugin/core/progress.js';

const FACE_BYTES = 112 * 112 * 3;

export interface LabelOptions { denoiserId: string; repeats: number; imagesPerCall: number; limit?: number; faceFile?: string; /** First face index: lets several processes label disjoint ranges. */ start?: number }

/**
 * Full-DifFIQA labels for a raw face file (N×112×112×3), the regressor's training targets.
 * Appends one JSON line per face to `out`, so an interrupted run resumes where it stopped.
 * The seed of face i is `label-<i>`: rerunning gives the same labels.
 */
export async function labelFaces(cfg: Config, datasetDir: string, out: string, o: LabelOptions): Promise<number> {
  const faceFile = o.faceFile ?? path.join(datasetDir, 'faces.u8');
  const fh = await open(faceFile, 'r');
  const start = o.start ?? 0;
  const total = Math.min((await fh.stat()).size / FACE_BYTES, start + (o.limit ?? Infinity));
  const done = start + (existsSync(out) ? (await readFile(out, 'utf8')).split('\n').filter(Boolean).length : 0);
  const rt = runtimeFromConfig(cfg);
  try {
    const scorer = new DiffusionScorer(rt, { denoiserId: o.denoiserId, embedderId: cfg.get('models.embedder'), repeats: o.repeats, maxBatch: o.imagesPerCall * 2 * o.repeats });
    const progress = new Progress(total - done, 'labelling');
    for (let i = done; i < total; i += o.imagesPerCall) {
      const n = Math.min(o.imagesPerCall, total - i);
      const buf = Buffer.alloc(n * FACE_BYTES);
      await fh.read(buf, 0, buf.length, i * FACE_BYTES);
      const faces = Array.from({ length: n }, (_, k) => ({
        face: { size: 112, data: new Uint8Array(buf.buffer, buf.byteOffset + k * FACE_BYTES, FACE_BYTES), landmarkSource: 'message' as const, landmarks: [], eyeDistance: NaN },
        seed: `label-${i + k}`,
      }));
      const results = await scorer.scoreBatch(faces);
      await appendFile(out, results.map((r, k) => JSON.stringify({ i: i + k, score: r.score, std: r.std })).join('\n') + '\n');
      progress.tick(n);
    }
    progress.end();
    return total;
  } finally {
    await fh.close();
    await rt.close();
  }
}

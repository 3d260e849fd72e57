import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../../../src/plugin/core/frame.js';
import { parseLfwPairs, type LfwPair } from '../../../src/tools/eval/pairs.js';
import { PrepareStage } from '../../../src/plugin/pipeline/stages/prepare.js';
import { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { cosine, EmbedScorer } from '../../../src/plugin/scorers/scorers.js';
import { sharedDir } from '../../helpers/shared.js';

/**
 * The real-model correctness check of the face path: LFW's 10-fold protocol with the product's
 * own decode → detect → align → MobileFaceNet. A worse alignment shows up here directly.
 */
const limits = { maxBytes: 4_000_000, maxPixels: 16_000_000, minSide: 16 };

function accuracy(pairs: { sim: number; genuine: boolean }[], t: number): number {
  return pairs.filter((p) => (p.sim >= t) === p.genuine).length / pairs.length;
}

function bestThreshold(pairs: { sim: number; genuine: boolean }[]): number {
  const candidates = [...new Set(pairs.map((p) => p.sim))].sort((a, b) => a - b);
  let best = -1, bestAcc = -1;
  for (const c of candidates) { const a = accuracy(pairs, c); if (a > bestAcc) { bestAcc = a; best = c; } }
  return best;
}

describe('LFW verification through the product face path', () => {
  let rt: ModelRuntime;
  let pairs: LfwPair[];
  const detectorLandmarks = new Map<string, [number, number][]>();
  let detectorEmb: Map<string, Float32Array> | undefined;
  let fold1Threshold = NaN;

  beforeAll(async () => {
    const shared = sharedDir();
    pairs = parseLfwPairs(readFileSync(path.join(shared, 'data', 'lfw-pairs.txt'), 'utf8'));
    // The default cache: mobilefacenet-dyn is a derived asset that models/ci.sh builds there.
    rt = new ModelRuntime({ mirrorDir: shared, allowDownload: false, workers: 2, intraOpThreads: 1, batch: { maxBatch: 16, maxDelayMs: 2, maxQueue: 512 } });
    await rt.load('retinaface-mnet025');
    await rt.load('mobilefacenet-dyn');
  });
  afterAll(async () => { await rt?.close(); });

  async function embedAll(files: string[], landmarks: 'detector' | 'message'): Promise<Map<string, Float32Array>> {
    const prep = new PrepareStage(rt, { detectorId: 'retinaface-mnet025', detectorScore: 0.5, limits, detectionsInFlight: 4 });
    const embedder = new EmbedScorer(rt, 'mobilefacenet-dyn');
    const out = new Map<string, Float32Array>();
    for (let i = 0; i < files.length; i += 32) {
      const frames: Frame[] = await Promise.all(files.slice(i, i + 32).map(async (f) => ({
        id: f, cameraId: 'lfw', timings: {}, receivedAt: 0,
        image: { bytes: await readFile(path.join(sharedDir(), 'data', f)) },
        landmarks: landmarks === 'message' ? detectorLandmarks.get(f) ?? null : null,
      })));
      await prep.process(frames);
      await Promise.all(frames.map(async (f) => {
        if (f.error) throw new Error(`${f.id}: ${f.error.code} ${f.error.message}`);
        if (landmarks === 'detector') detectorLandmarks.set(f.id, f.aligned!.landmarks);
        out.set(f.id, await embedder.embed(f.aligned!));
      }));
    }
    return out;
  }

  it('fold 1 accuracy should be at least 98 % with the threshold chosen on the other nine folds (detector path)', async () => {
    const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
    const emb = (detectorEmb = await embedAll(files, 'detector'));
    const scored = pairs.map((p) => ({ fold: p.fold, genuine: p.genuine, sim: cosine(emb.get(p.a)!, emb.get(p.b)!) }));
    const perFold = Array.from({ length: 10 }, (_, k) => accuracy(scored.filter((s) => s.fold === k), bestThreshold(scored.filter((s) => s.fold !== k))));
    const fold1 = perFold[0];
    fold1Threshold = bestThreshold(scored.filter((s) => s.fold !== 0));
    console.log(`LFW detector path: fold 1 ${(fold1 * 100).toFixed(2)} %, 10-fold mean ${(perFold.reduce((a, b) => a + b, 0) * 10).toFixed(2)} %`);
    expect(fold1).toBeGreaterThanOrEqual(0.98);
  }, 900_000);

  it('the landmark path should give the same faces and fold-1 accuracy as the detector path', async () => {
    expect(detectorEmb, 'runs after the detector-path test').toBeDefined();
    const fold1 = pairs.filter((p) => p.fold === 0);
    const files = [...new Set(fold1.flatMap((p) => [p.a, p.b]))];
    const emb = await embedAll(files, 'message');
    for (const f of files) expect(cosine(emb.get(f)!, detectorEmb!.get(f)!)).toBeGreaterThan(0.999);
    const scored = fold1.map((p) => ({ genuine: p.genuine, sim: cosine(emb.get(p.a)!, emb.get(p.b)!) }));
    const acc = accuracy(scored, fold1Threshold);
    console.log(`LFW landmark path: fold 1 ${(acc * 100).toFixed(2)} %`);
    expect(acc).toBeGreaterThanOrEqual(0.98);
  }, 900_000);
});

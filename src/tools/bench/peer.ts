import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AlignedFace } from '../../plugin/core/frame.js';
import { GateError } from '../../plugin/core/errors.js';
import { limitsFrom } from '../../plugin/pipeline/stages/prepare.js';
import { ARCFACE_TEMPLATE } from '../../plugin/face/align.js';
import { decodeImage } from '../../plugin/face/decode.js';
import { RegressScorer } from '../../plugin/scorers/scorers.js';
import type { BenchContext } from './context.js';
import { benchRuntime } from './context.js';
import { writeAlignedPngs, type BenchFace } from './faces.js';
import type { BenchModel } from './models.js';
import { poolRows } from './prep.js';
import { runPythonJson } from './python.js';
import { median } from './stats.js';

interface PeerJson {
  model: string; images: number; threads: number; torch: string; preprocessMsPerImage: number;
  rows: { batch: number; imagesPerSecond: number; modelMsPerImage: number }[];
  scores: number[];
}

export interface PeerRow {
  batch: number;
  /** Aligned image file → score, images/s. */
  oursImagesPerSecond: number;
  peerImagesPerSecond: number;
  /** ours ÷ peer, end to end. Goal ≥ 2. */
  speedup: number;
  /** Model only, on the same tensors and the same thread budget: our pool (a batch per worker at a time) vs PyTorch. */
  oursModelMsPerImage: number;
  peerModelMsPerImage: number;
  modelSpeedup: number;
}

export interface PeerResult {
  modelId: string;
  label: string;
  images: number;
  threads: number;
  torch: string;
  peerPreprocessMsPerImage: number;
  rows: PeerRow[];
  /** Largest |our score − peer score| over the images: proves same weights and preprocessing. */
  scoreMaxAbsDiff: number;
  /** The model's multiply-accumulates per image, where the bench knows them. */
  gmacPerImage?: number;
}

/** A decoded aligned crop as the scorer takes it (the crop is already on the template). */
function asAligned(data: Uint8Array): AlignedFace {
  return { size: 112, data, landmarkSource: 'message', landmarks: ARCFACE_TEMPLATE.map(([x, y]) => [x, y]), eyeDistance: ARCFACE_TEMPLATE[1][0] - ARCFACE_TEMPLATE[0][0] };
}

/**
 * Our side of the comparison from the same files: read → decode (sharp) → tensor → micro-batcher
 * → pool, batches of `batch` and `batch` images in flight per worker, so that every worker has a
 * batch to run, as the `score` command and the gate keep them. This is the `score` command's path
 * without detection and alignment, which the authors' path has no equivalent of (it starts from
 * aligned crops too). With `batch` 1 each worker's session sees one image per run, as the peer's model does.
 */
async function ourFilePath(ctx: BenchContext, modelId: string, files: string[], batch: number, repeats: number): Promise<{ seconds: number; scores: number[] }> {
  const inFlight = batch * ctx.workers;
  const rt = benchRuntime(ctx, { batch: { maxBatch: batch, maxDelayMs: ctx.maxDelayMs, maxQueue: Math.max(inFlight * 2, 64) } });
  try {
    await rt.load(modelId);
    const scorer = new RegressScorer(rt, modelId);
    const limits = limitsFrom(ctx.cfg);
    const scores: number[] = new Array(files.length);
    const pass = async () => {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < files.length; i = next++) {
          const img = await decodeImage(await readFile(files[i]), limits);
          if (img.width !== 112 || img.height !== 112) throw new GateError('INTERNAL', `${files[i]} is not 112×112`);
          scores[i] = (await scorer.score(asAligned(img.data))).score;
        }
      };
      await Promise.all(Array.from({ length: Math.min(inFlight, files.length) }, worker));
    };
    await pass(); // warm-up, as the peer warms up
    const runs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      await pass();
      runs.push((performance.now() - t0) / 1000);
    }
    return { seconds: median(runs), scores };
  } finally {
    await rt.close();
  }
}

export interface PeerOptions { images: number; batches: number[]; repeats: number }

/**
 * The authors' Python inference path vs ours on the same aligned images, same thread budget: the
 * peer gets the pool's whole budget (workers × intra-op threads) for its one PyTorch process.
 */
export async function benchPeer(ctx: BenchContext, model: BenchModel, faces: BenchFace[], o: PeerOptions): Promise<PeerResult> {
  if (!model.peer) throw new GateError('MODEL_UNKNOWN', `no PyTorch twin of ${model.id} is available for the peer`);
  const used = faces.slice(0, o.images);
  const dir = path.join(ctx.workDir, `aligned-${faces.length}`);
  const files = (await writeAlignedPngs(faces, dir)).slice(0, used.length);
  ctx.log(`  peer (${model.peer.model}, PyTorch) on ${files.length} aligned images…`);
  const args = ['--model', model.peer.model, '--images', dir, '--count', String(files.length), '--threads', String(ctx.workers * ctx.intraOpThreads),
    '--batches', o.batches.join(','), '--repeats', String(o.repeats)];
  if (model.peer.checkpoint) args.push('--checkpoint', model.peer.checkpoint);
  const peer = await runPythonJson<PeerJson>('authors_path.py', args, ctx.log);

  ctx.log(`  ours (${model.id}) on the same files…`);
  const rows: PeerRow[] = [];
  let scores: number[] = [];
  for (const p of peer.rows) {
    const ours = await ourFilePath(ctx, model.id, files, p.batch, o.repeats);
    scores = ours.scores;
    const rt = benchRuntime(ctx);
    let modelMs: number;
    try {
      await rt.load(model.id);
      // One batch per worker at a time: the pool on the whole thread budget, as the peer's model has it.
      modelMs = (await poolRows(rt, model.id, used, [p.batch], o.repeats, used.length, ctx.workers))[0].msPerImage;
    } finally {
      await rt.close();
    }
    const oursIps = files.length / ours.seconds;
    rows.push({
      batch: p.batch, oursImagesPerSecond: oursIps, peerImagesPerSecond: p.imagesPerSecond, speedup: oursIps / p.imagesPerSecond,
      oursModelMsPerImage: modelMs, peerModelMsPerImage: p.modelMsPerImage, modelSpeedup: p.modelMsPerImage / modelMs,
    });
  }
  const scoreMaxAbsDiff = Math.max(...peer.scores.map((s, i) => Math.abs(s - scores[i])));
  return { modelId: model.id, label: model.label, images: files.length, threads: peer.threads, torch: peer.torch, peerPreprocessMsPerImage: peer.preprocessMsPerImage, rows, scoreMaxAbsDiff, gmacPerImage: model.gmacPerImage };
}

import type { ModelEntry } from '../../plugin/assets/manifest.js';
import type { Config } from '../../plugin/config/load.js';
import { prepareFace } from '../../plugin/face/prepare.js';
import { toTensor } from '../../plugin/face/tensor.js';
import { facesFeed } from '../../plugin/inference/types.js';
import type { ModelRuntime } from '../../plugin/scorers/runtime.js';
import type { BenchFace } from './faces.js';
import { prepareDeps } from './faces.js';
import { repeatPer, summarise, type PerItem } from './stats.js';

export interface BatchRow extends PerItem { batch: number }

export interface PrepResult {
  images: number;
  repeats: number;
  /** Decode + 5-point alignment with the message's landmarks (what the gate does for camera crops). */
  landmarkPath: PerItem;
  /** The same, 16 images in flight (the gate prepares a whole chunk at once). */
  landmarkPathConcurrent: PerItem;
  /** Decode + RetinaFace through the pool + alignment (crops without landmarks). */
  detectorPath: PerItem;
  embedderId: string;
  /** The FR embedder through the pool, ms per image at each batch size. */
  embed: BatchRow[];
}

/** Ready-made batches of real faces; built before timing since the pool transfers (detaches) its inputs. */
export function faceBatches(faces: BenchFace[], entry: Pick<ModelEntry, 'normalisation' | 'input'>, batch: number, count: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let k = 0; k < count; k++) {
    const pick = Array.from({ length: batch }, (_, i) => faces[(k * batch + i) % faces.length].aligned);
    out.push(toTensor(pick, entry.normalisation, entry.input.colorOrder));
  }
  return out;
}

/** How many batches of `batch` make one timed repeat: at least `images` images, at least one batch. */
export const batchesFor = (images: number, batch: number) => Math.max(1, Math.round(images / batch));

/**
 * Runs `modelId` through the pool over `faces` as the gate does (uint8 faces, normalised in the
 * worker): median ms (wall and process CPU) per image per batch size. `lanes` batches run at a
 * time: 1 times one worker's session; the pool's worker count times the whole thread budget.
 */
export async function poolRows(rt: ModelRuntime, modelId: string, faces: BenchFace[], batches: number[], repeats: number, images: number, lanes = 1): Promise<BatchRow[]> {
  const { entry } = rt.pool.model(modelId);
  const rows: BatchRow[] = [];
  for (const batch of batches) {
    const n = Math.max(lanes, batchesFor(images, batch));
    // The feeds the gate's batchers build: uint8 faces, normalised in the worker.
    const format = { norm: entry.normalisation, colorOrder: entry.input.colorOrder };
    const feedsFor = () => Array.from({ length: n }, (_, k) => ({
      [entry.input.name]: facesFeed(Array.from({ length: batch }, (_, i) => faces[(k * batch + i) % faces.length].aligned.data), [faces[0].aligned.size, faces[0].aligned.size], format),
    }));
    // Warm-up at this shape on every worker at once (ORT plans a shape on its first run): warming
    // one left the other's first batch in the timing, +20 % CPU per image with two lanes.
    await Promise.all(Array.from({ length: rt.pool.workerCount }, () => rt.run(modelId, feedsFor()[0])));
    const sets = Array.from({ length: repeats }, feedsFor);
    let r = 0;
    const res = await repeatPer(repeats, n * batch, async () => {
      const set = sets[r++];
      let next = 0;
      const lane = async () => { for (let k = next++; k < set.length; k = next++) await rt.run(modelId, set[k]); };
      await Promise.all(Array.from({ length: lanes }, lane));
    });
    rows.push({ batch, ...summarise(res) });
  }
  return rows;
}

/**
 * Decode + align, landmark or detector path, `concurrency` images at a time (1: the per-image
 * cost; more: as the gate's PrepareStage runs a chunk, which adds libvips/libuv contention).
 */
export async function decodeAlign(rt: ModelRuntime, cfg: Config, faces: BenchFace[], repeats: number, withLandmarks: boolean, concurrency = 1): Promise<PerItem> {
  const deps = prepareDeps(rt, cfg);
  const once = async () => {
    let next = 0;
    const worker = async () => { for (let i = next++; i < faces.length; i = next++) await prepareFace(faces[i].jpeg, { landmarks: withLandmarks ? faces[i].landmarks : null }, deps); };
    await Promise.all(Array.from({ length: Math.min(concurrency, faces.length) }, worker));
  };
  await prepareFace(faces[0].jpeg, { landmarks: withLandmarks ? faces[0].landmarks : null }, deps);
  return summarise(await repeatPer(repeats, faces.length, once));
}

/** The "scoring core" numbers. `rt` must have the detector and the embedder loaded. */
export async function benchPrep(rt: ModelRuntime, cfg: Config, faces: BenchFace[], o: { repeats: number; batches: number[]; embedderId: string }): Promise<PrepResult> {
  const landmarkPath = await decodeAlign(rt, cfg, faces, o.repeats, true);
  const landmarkPathConcurrent = await decodeAlign(rt, cfg, faces, o.repeats, true, 16);
  const detectorPath = await decodeAlign(rt, cfg, faces, o.repeats, false);
  const embed = await poolRows(rt, o.embedderId, faces, o.batches, o.repeats, Math.max(32, faces.length));
  return { images: faces.length, repeats: o.repeats, landmarkPath, landmarkPathConcurrent, detectorPath, embedderId: o.embedderId, embed };
}

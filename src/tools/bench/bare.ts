import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ModelEntry } from '../../plugin/assets/manifest.js';
import { compiledSibling } from '../../plugin/core/paths.js';
import type { ModelRuntime } from '../../plugin/scorers/runtime.js';
import type { BareLaneData, BareLaneReply, BareLaneRequest } from './bare-worker.js';
import type { BenchFace } from './faces.js';
import type { BenchModel } from './models.js';
import { batchesFor, faceBatches, poolRows, type BatchRow } from './prep.js';
import { repeatPer, summarise } from './stats.js';

export interface BareResult {
  modelId: string;
  label: string;
  note?: string;
  intraOpThreads: number;
  /** A bare InferenceSession in the main thread: the floor for this model on these cores. */
  bare: BatchRow[];
  /** The same batches through the product's pool (worker thread, transfer, copy-out). */
  pool: BatchRow[];
  /** Bare again with ORT's intra-op spin-waiting off: how much CPU the spinning burns. */
  bareNoSpin?: BatchRow[];
}

/** The session options of src/plugin/inference/worker.ts, so bare and pool compare like with like. */
export function sessionOptions(threads: number, spin: boolean): ort.InferenceSession.SessionOptions {
  const session: Record<string, unknown> = { set_denormal_as_zero: '1' };
  if (!spin) session.intra_op = { allow_spinning: '0' };
  return { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session } };
}

/** A bare session in this thread, ms (wall and process CPU) per image at each batch size. */
export async function bareRows(file: string, rt: ModelRuntime, modelId: string, faces: BenchFace[], o: Omit<BareOptions, 'noSpin'>, spin: boolean): Promise<BatchRow[]> {
  const { entry } = rt.pool.model(modelId);
  const session = await ort.InferenceSession.create(file, sessionOptions(o.threads, spin));
  try {
    const rows: BatchRow[] = [];
    for (const batch of o.batches) {
      const n = batchesFor(o.images, batch);
      const tensors = faceBatches(faces, entry, batch, n).map((data) => new ort.Tensor('float32', data, [batch, 3, 112, 112]));
      await session.run({ [entry.input.name]: tensors[0] });
      const res = await repeatPer(o.repeats, n * batch, async () => { for (const t of tensors) await session.run({ [entry.input.name]: t }); });
      rows.push({ batch, ...summarise(res) });
    }
    return rows;
  } finally {
    await session.release();
  }
}

export interface BareOptions { batches: number[]; repeats: number; images: number; threads: number; noSpin: boolean }

/** Bare onnxruntime-node limits of one regressor, and the pool on the same batches. `rt` must have it loaded. */
export async function benchBare(rt: ModelRuntime, model: BenchModel, faces: BenchFace[], o: BareOptions): Promise<BareResult> {
  const file = await rt.resolver.resolve(rt.entry(model.id));
  const bare = await bareRows(file, rt, model.id, faces, o, true);
  const pool = await poolRows(rt, model.id, faces, o.batches, o.repeats, o.images);
  const result: BareResult = { modelId: model.id, label: model.label, intraOpThreads: o.threads, bare, pool };
  if (model.note) result.note = model.note;
  if (o.noSpin) result.bareNoSpin = await bareRows(file, rt, model.id, faces, o, false);
  return result;
}

export interface LaneRow extends BatchRow {
  lanes: number;
  threads: number;
  /** What each lane reported after the last repeat: its thread, its runs (warm-up included), the sum of its last output. */
  perLane: { threadId: number; runs: number; lastSum: number }[];
}

/** The lane's next reply; events.once rejects if the worker emits 'error' first. */
async function reply(w: Worker): Promise<BareLaneReply> {
  const [m] = (await once(w, 'message')) as [BareLaneReply];
  if (m.kind === 'error') throw new Error(`bare lane: ${m.message}`);
  return m;
}

/**
 * Bare onnxruntime on the gate's cores: `lanes` bare sessions of `threads` intra-op threads each,
 * each in a thread of its own, all running their batches back to back at once: the pool's shape
 * (inference.workers × intraOpThreads) without the pool. Timed as one: process CPU (every thread)
 * and wall per image over all the lanes' images. One lane is bareRows's figure in another thread.
 */
export async function bareLanes(file: string, entry: Pick<ModelEntry, 'normalisation' | 'input'>, faces: BenchFace[], o: { batch: number; repeats: number; images: number; threads: number; lanes: number }): Promise<LaneRow> {
  const n = batchesFor(o.images, o.batch);
  const workers: Worker[] = [];
  try {
    for (let l = 0; l < o.lanes; l++) {
      // Each lane its own faces, so that no two lanes read the same input buffers.
      const batches = faceBatches(faces.slice(l % faces.length).concat(faces.slice(0, l % faces.length)), entry, o.batch, n);
      const data: BareLaneData = { file, options: sessionOptions(o.threads, true), inputName: entry.input.name, dims: [o.batch, 3, 112, 112], batches };
      const w = new Worker(compiledSibling(import.meta.url, 'bare-worker.js'), { workerData: data, transferList: batches.map((b) => b.buffer as ArrayBuffer) });
      workers.push(w);
    }
    await Promise.all(workers.map(reply));
    let last: BareLaneReply[] = [];
    const res = await repeatPer(o.repeats, o.lanes * n * o.batch, async () => {
      last = await Promise.all(workers.map((w) => {
        const r = reply(w);
        w.postMessage({ kind: 'run' } satisfies BareLaneRequest);
        return r;
      }));
    });
    const perLane = last.map((m) => (m.kind === 'ran' ? { threadId: m.threadId, runs: m.runs, lastSum: m.lastSum } : { threadId: -1, runs: 0, lastSum: NaN }));
    return { batch: o.batch, lanes: o.lanes, threads: o.threads, ...summarise(res), perLane };
  } finally {
    await Promise.all(workers.map((w) => {
      const exited = new Promise((r) => w.once('exit', r));
      w.postMessage({ kind: 'close' } satisfies BareLaneRequest);
      return Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]).then(() => w.terminate());
    }));
  }
}

import * as ort from 'onnxruntime-node';
import type { ModelRuntime } from '../scorers/runtime.js';
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
function sessionOptions(threads: number, spin: boolean): ort.InferenceSession.SessionOptions {
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

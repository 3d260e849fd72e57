import type { BenchContext } from './context.js';
import { benchRuntime } from './context.js';
import { bareRows } from './bare.js';
import type { GateRuns } from './e2e.js';
import { medianSplit, type ThreadSplit } from './split.js';
import type { BenchFace } from './faces.js';
import type { BenchModel } from './models.js';
import { decodeAlign, poolRows } from './prep.js';
import { median } from './stats.js';

export interface OverheadResult {
  modelId: string;
  label: string;
  note?: string;
  provider: string;
  gate: {
    /** Median over saturation runs of the gate process's CPU ms per frame (all its threads). */
    cpuMsPerFrame: number;
    runsCpuMsPerFrame: number[];
    /** Of cpuMsPerFrame, by thread role (Linux /proc, 10 ms ticks), medians over the runs. */
    threadsMsPerFrame?: ThreadSplit;
    framesPerSecond: number;
    runsFramesPerSecond: number[];
    meanBatch: number;
    idleCpuMsPerSecond: number;
    pausedMs: number;
  };
  standalone: {
    /** Decode + landmark alignment, CPU ms per image, one image at a time. */
    decodeAlignCpuMs: number;
    /** The batch size inference was measured at: the gate's mean batch at saturation, rounded. */
    batch: number;
    /** Bare InferenceSession, CPU ms per image (the strict floor). */
    bareInferenceCpuMs: number;
    /** The product's pool, CPU ms per image (adds the worker hand-off). */
    poolInferenceCpuMs: number;
    /** Wall ms of one full batch (maxBatch) through the pool: the latency bound's unit (with fullBatch, else of `batch`). */
    poolBatchWallMs: number;
  };
  /** gate ÷ (decode+align + bare inference). Goal ≤ 1.05. */
  ratio: number;
  /** gate ÷ (decode+align + pool inference). */
  ratioToPool: number;
  dlq: Record<string, number>;
  duplicates: number;
  cleanStop: boolean;
  profile?: GateRuns['profile'];
}

/**
 * The denominator of the overhead ratio, measured here in the parent while no Kafka client runs
 * in it (so process.cpuUsage() holds only this work), in the same run as the gate's numbers.
 */
export async function overheadFrom(ctx: BenchContext, model: BenchModel, faces: BenchFace[], gate: GateRuns, inferenceImages: number, fullBatch: boolean): Promise<OverheadResult> {
  const meanBatch = median(gate.runs.map((r) => r.meanBatch));
  const batch = Math.max(1, Math.round(meanBatch));
  const rt = benchRuntime(ctx);
  try {
    await rt.load(ctx.cfg.get('models.detector'));
    await rt.load(model.id);
    const repeats = ctx.sizes.repeats;
    const decodeAlignCpuMs = (await decodeAlign(rt, ctx.cfg, faces, repeats, true)).cpuMsPerImage;
    const images = Math.max(batch, inferenceImages);
    const file = await rt.resolver.resolve(rt.entry(model.id));
    const [bare] = await bareRows(file, rt, model.id, faces, { batches: [batch], repeats, images, threads: ctx.intraOpThreads }, true);
    const pool = await poolRows(rt, model.id, faces, [...new Set(fullBatch ? [batch, ctx.maxBatch] : [batch])], repeats, images);
    const standalone = {
      decodeAlignCpuMs, batch, bareInferenceCpuMs: bare.cpuMsPerImage, poolInferenceCpuMs: pool[0].cpuMsPerImage,
      poolBatchWallMs: pool[pool.length - 1].msPerImage * pool[pool.length - 1].batch,
    };
    const cpuMsPerFrame = median(gate.runs.map((r) => r.cpuMsPerFrame));
    const result: OverheadResult = {
      modelId: model.id, label: model.label, provider: gate.provider,
      gate: {
        cpuMsPerFrame, runsCpuMsPerFrame: gate.runs.map((r) => r.cpuMsPerFrame),
        threadsMsPerFrame: medianSplit(gate.runs.map((r) => r.threadsMsPerFrame)),
        framesPerSecond: median(gate.runs.map((r) => r.framesPerSecond)), runsFramesPerSecond: gate.runs.map((r) => r.framesPerSecond),
        meanBatch, idleCpuMsPerSecond: gate.idleCpuMsPerSecond, pausedMs: median(gate.runs.map((r) => r.pausedMs)),
      },
      standalone,
      ratio: cpuMsPerFrame / (decodeAlignCpuMs + standalone.bareInferenceCpuMs),
      ratioToPool: cpuMsPerFrame / (decodeAlignCpuMs + standalone.poolInferenceCpuMs),
      dlq: gate.dlq, duplicates: gate.duplicates, cleanStop: gate.cleanStop,
    };
    if (model.note) result.note = model.note;
    if (gate.profile) result.profile = gate.profile;
    return result;
  } finally {
    await rt.close();
  }
}

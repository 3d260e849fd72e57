import type { BenchContext } from './context.js';
import { benchRuntime } from './context.js';
import { bareLanes, bareRows } from './bare.js';
import type { GateRuns } from './e2e.js';
import { medianSplit, type ThreadSplit } from './split.js';
import type { BenchFace } from './faces.js';
import type { BenchModel } from './models.js';
import { decodeAlign, poolRows } from './prep.js';
import { median } from './stats.js';

export interface OverheadResult {
  modelId: string;
  /** The gate's Kafka client (kafka.client); the standalone work has none. */
  client: string;
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
  /**
   * The standalone work. The goal's figures run each part alone on the cores the gate uses, as the
   * gate runs it: decode + align a chunk of images in flight, inference as inference.workers bare
   * sessions of intraOpThreads threads at once. The one-core figures (one image, one session, the
   * other core idle) are the floor of each part and were the denominator until 2026-12-06.
   */
  standalone: {
    /** Decode + landmark alignment, CPU ms per image, one image at a time. */
    decodeAlignCpuMs: number;
    /** The same with `decodeInFlight` images in flight (the gate's chunk). */
    decodeAlignConcurrentCpuMs: number;
    decodeInFlight: number;
    /** The batch size inference was measured at: the gate's mean batch at saturation, rounded. */
    batch: number;
    /** One bare InferenceSession, one batch at a time, CPU ms per image. */
    bareInferenceCpuMs: number;
    /** `lanes` bare sessions (inference.workers), each with the pool's intra-op threads, all at once: CPU ms per image. */
    bareLanesInferenceCpuMs: number;
    lanes: number;
    /** The product's pool, a batch per worker at once, CPU ms per image (adds the worker hand-off and the packing). */
    poolInferenceCpuMs: number;
    /** Wall ms of one full batch (maxBatch) through the pool, one batch at a time: the latency bound's unit (measured when latency is). */
    poolBatchWallMs?: number;
  };
  /** gate ÷ (decode+align in flight + bare sessions on the gate's cores). Goal ≤ 1.05. */
  ratio: number;
  /** gate ÷ (decode+align one at a time + one bare session): every part on one core, the other idle. */
  ratioOneCore: number;
  /** gate ÷ (decode+align in flight + the pool on the gate's cores). */
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
export async function overheadFrom(ctx: BenchContext, model: BenchModel, faces: BenchFace[], gates: GateRuns[], inferenceImages: number, fullBatch: boolean): Promise<OverheadResult[]> {
  // One denominator for every client's gate (the batch all of them ran at, as a median): the
  // clients' ratios then differ only by what their gates spent.
  const batch = Math.max(1, Math.round(median(gates.flatMap((g) => g.runs.map((r) => r.meanBatch)))));
  const rt = benchRuntime(ctx);
  try {
    await rt.load(ctx.cfg.get('models.detector'));
    await rt.load(model.id);
    const repeats = ctx.sizes.repeats;
    // The gate prepares a chunk at a time: half of a partition's in-flight window (gate.ts).
    const decodeInFlight = Math.max(1, Math.ceil(ctx.cfg.get('gate.inFlightPerPartition') / 2));
    const decodeAlignCpuMs = (await decodeAlign(rt, ctx.cfg, faces, repeats, true)).cpuMsPerImage;
    const decodeAlignConcurrentCpuMs = (await decodeAlign(rt, ctx.cfg, faces, repeats, true, decodeInFlight)).cpuMsPerImage;
    const images = Math.max(batch, inferenceImages);
    const entry = rt.entry(model.id);
    const file = await rt.resolver.resolve(entry);
    const [bare] = await bareRows(file, rt, model.id, faces, { batches: [batch], repeats, images, threads: ctx.intraOpThreads }, true);
    const lanes = ctx.workers;
    const bareLanesRow = await bareLanes(file, entry, faces, { batch, repeats, images, threads: ctx.intraOpThreads, lanes });
    const [pool] = await poolRows(rt, model.id, faces, [batch], repeats, images, lanes);
    const standalone: OverheadResult['standalone'] = {
      decodeAlignCpuMs, decodeAlignConcurrentCpuMs, decodeInFlight, batch, bareInferenceCpuMs: bare.cpuMsPerImage,
      bareLanesInferenceCpuMs: bareLanesRow.cpuMsPerImage, lanes, poolInferenceCpuMs: pool.cpuMsPerImage,
    };
    if (fullBatch) {
      const [full] = await poolRows(rt, model.id, faces, [ctx.maxBatch], repeats, images);
      standalone.poolBatchWallMs = full.msPerImage * full.batch;
    }
    return gates.map((gate) => gateOverhead(model, gate, standalone));
  } finally {
    await rt.close();
  }
}

function gateOverhead(model: BenchModel, gate: GateRuns, standalone: OverheadResult['standalone']): OverheadResult {
  const meanBatch = median(gate.runs.map((r) => r.meanBatch));
  const { decodeAlignCpuMs, decodeAlignConcurrentCpuMs } = standalone;
  const cpuMsPerFrame = median(gate.runs.map((r) => r.cpuMsPerFrame));
  const result: OverheadResult = {
    modelId: model.id, client: gate.client, label: model.label, provider: gate.provider,
    gate: {
      cpuMsPerFrame, runsCpuMsPerFrame: gate.runs.map((r) => r.cpuMsPerFrame),
      threadsMsPerFrame: medianSplit(gate.runs.map((r) => r.threadsMsPerFrame)),
      framesPerSecond: median(gate.runs.map((r) => r.framesPerSecond)), runsFramesPerSecond: gate.runs.map((r) => r.framesPerSecond),
      meanBatch, idleCpuMsPerSecond: gate.idleCpuMsPerSecond, pausedMs: median(gate.runs.map((r) => r.pausedMs)),
    },
    standalone,
    ratio: cpuMsPerFrame / (decodeAlignConcurrentCpuMs + standalone.bareLanesInferenceCpuMs),
    ratioOneCore: cpuMsPerFrame / (decodeAlignCpuMs + standalone.bareInferenceCpuMs),
    ratioToPool: cpuMsPerFrame / (decodeAlignConcurrentCpuMs + standalone.poolInferenceCpuMs),
    dlq: gate.dlq, duplicates: gate.duplicates, cleanStop: gate.cleanStop,
  };
  if (model.note) result.note = model.note;
  if (gate.profile) result.profile = gate.profile;
  return result;
}

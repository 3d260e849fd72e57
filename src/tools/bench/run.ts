import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../plugin/config/load.js';
import { toGateError } from '../../plugin/core/errors.js';
import { packageRoot } from '../../plugin/core/paths.js';
import { benchBare } from './bare.js';
import { benchBroker } from './broker.js';
import { benchRuntime, benchWorkDir, FULL, QUICK, type BenchContext } from './context.js';
import { benchFullDifFIQA } from './diffusion.js';
import { KAFKA_CLIENT_KINDS } from '../../plugin/kafka/client.js';
import { runGate, type GateRuns } from './e2e.js';
import { transportFrom } from './transport.js';
import { loadBenchFaces, type BenchFace } from './faces.js';
import { isIResNet, randomIResNet, randomIResNetInt8, smallRegressors, writeBenchManifest, type BenchModel } from './models.js';
import { overheadFrom } from './overhead.js';
import { benchPeer, type PeerOptions } from './peer.js';
import { benchPrep } from './prep.js';
import { renderMarkdown, type BenchReport } from './report.js';

export interface BenchOptions {
  quick: boolean;
  /** Only the scoring-core numbers (section 1). */
  prepOnly: boolean;
  outDir: string;
  cfg: Config;
  command: string;
  profileDir?: string;
  /** Only these of the sections after the scoring core (default all): ratios still come from one run. */
  only?: BenchSection[];
  log?: (msg: string) => void;
}

export const BENCH_SECTIONS = ['bare', 'gate', 'peer', 'diffusion'] as const;
export type BenchSection = (typeof BENCH_SECTIONS)[number];

export interface BenchOutput { report: BenchReport; jsonPath: string; mdPath: string; markdown: string }

function sharedDirFrom(cfg: Config): string {
  return path.resolve(cfg.get('models.mirror') || process.env.DIFFIQA_ASSET_MIRROR || process.env.DIFFIQA_SHARED || path.resolve(packageRoot(), '../shared'));
}

function ortVersion(): string {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Runs `fn`, recording a failure under `name` instead of losing the sections that follow. */
async function section<T>(report: BenchReport, name: string, ctx: BenchContext, fn: () => Promise<T>): Promise<T | undefined> {
  ctx.log(`[${name}] at ${Math.round((Date.now() - Date.parse(report.startedAt)) / 1000)} s`);
  try {
    return await fn();
  } catch (err) {
    const e = toGateError(err);
    report.errors[name] = `${e.code}: ${e.message}`;
    ctx.log(`  ${name} failed: ${e.message.split('\n')[0]}`);
    return undefined;
  }
}

/** `diffiqa-gate bench`: every section in one run, so that ratios compare numbers taken together. */
export async function runBench(o: BenchOptions): Promise<BenchOutput> {
  const started = new Date();
  const mode = o.prepOnly ? 'prep' : o.quick ? 'quick' : 'full';
  const workDir = benchWorkDir();
  const ctx: BenchContext = {
    quick: o.quick, sizes: o.quick || o.prepOnly ? QUICK : FULL, cfg: o.cfg, sharedDir: sharedDirFrom(o.cfg), workDir,
    manifestPath: path.join(workDir, 'manifest.json'),
    intraOpThreads: o.cfg.get('inference.intraOpThreads'), workers: o.cfg.get('inference.workers'),
    maxBatch: o.cfg.get('inference.maxBatch'), maxDelayMs: o.cfg.get('inference.maxDelayMs'),
    profileDir: o.profileDir, notes: [], log: o.log ?? ((m) => process.stderr.write(`${m}\n`)),
  };
  if (o.prepOnly && !o.quick) ctx.sizes = { ...FULL, repeats: QUICK.repeats };
  const cpus = os.cpus();
  const report: BenchReport = {
    name: `${mode}-${started.toISOString().replace(/[:.]/g, '-').slice(0, 19)}`, mode, command: o.command, startedAt: started.toISOString(), durationS: 0,
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, memGiB: Math.round(os.totalmem() / 2 ** 30), loadAvgStart: os.loadavg(), loadAvgEnd: [], node: process.version, nodeFlags: process.execArgv, onnxruntime: ortVersion(), platform: `${os.platform()} ${os.release()}` },
    settings: { workers: ctx.workers, intraOpThreads: ctx.intraOpThreads, maxBatch: ctx.maxBatch, maxDelayMs: ctx.maxDelayMs, repeats: ctx.sizes.repeats, images: ctx.sizes.images },
    notes: ctx.notes, errors: {},
  };
  await writeBenchManifest(ctx);
  if (o.profileDir) {
    await mkdir(o.profileDir, { recursive: true });
    ctx.notes.push(`--profile: the gate's main thread was sampled every 200 µs during the saturation runs (profiles in ${o.profileDir}); its CPU figures include the profiler's own cost`);
  }

  // Section 1 must work: everything after it needs the faces.
  let faces: BenchFace[];
  let small: BenchModel[] | undefined;
  const rt = benchRuntime(ctx);
  try {
    ctx.log('[prep] loading models and LFW faces…');
    await rt.load(o.cfg.get('models.detector'));
    const embedderId = o.cfg.get('models.embedder');
    await rt.load(embedderId);
    // The peer scores more images than the preparation timings need; load them once.
    faces = await loadBenchFaces(rt, o.cfg, ctx.sharedDir, workDir, o.prepOnly ? ctx.sizes.images : Math.max(ctx.sizes.images, ctx.sizes.peerImages));
    report.prep = await benchPrep(rt, o.cfg, faces.slice(0, ctx.sizes.images), { repeats: ctx.sizes.repeats, batches: ctx.sizes.batches, embedderId });
    if (!o.prepOnly) small = await smallRegressors(ctx, rt);
  } finally {
    await rt.close();
  }

  if (o.only) ctx.notes.push(`--only ${o.only.join(',')}: the other sections were not run`);
  if (small) await runSections(ctx, report, faces, small, new Set(o.only ?? BENCH_SECTIONS));
  report.machine.loadAvgEnd = os.loadavg();
  report.durationS = (Date.now() - started.getTime()) / 1000;
  const markdown = renderMarkdown(report);
  await mkdir(o.outDir, { recursive: true });
  const jsonPath = path.join(o.outDir, `${report.name}.json`);
  const mdPath = path.join(o.outDir, 'latest.md');
  await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
  await writeFile(mdPath, markdown + '\n');
  return { report, jsonPath, mdPath, markdown };
}

/** How much of each section a model gets: the iResNet-100-size one costs 0.14–0.17 CPU s an image here in float (0.07 int8). */
interface Plan { bare: { images: number; repeats: number }; warmup: number; frames: number; runs: number; latencyLoads: number[]; inferenceImages: number; peer: PeerOptions }

function planFor(ctx: BenchContext, m: BenchModel): Plan {
  if (isIResNet(m.id)) {
    // Three saturation runs for a median: one run of 32 frames (3–4 batches a worker) gave the int8
    // variant a ratio of 0.96–1.24 across runs J–L of 2026-12-06. A warm-up of 16 frames left batch
    // 16 new to both workers (the first frame goes alone to a free worker): the first run then read
    // 203 CPU ms/frame against 189 and 174 (run M).
    return { bare: { images: 8, repeats: 3 }, warmup: ctx.maxBatch * 4, frames: 48, runs: 3, latencyLoads: [], inferenceImages: 16, peer: { images: 32, batches: [1, 16], repeats: 2 } };
  }
  const s = ctx.sizes;
  return {
    bare: { images: 64, repeats: s.repeats }, warmup: ctx.maxBatch * 4, frames: s.saturationFrames, runs: s.saturationRuns,
    // 256 images a timed repeat: with 64 (~60 ms on two lanes) the pool on two lanes read 2.09 and
    // 2.49 CPU ms/image in runs J and K of 2026-12-06, against 1.76–1.82 over 256 in a process of its own.
    latencyLoads: [0.3, 0.7, 1.0], inferenceImages: ctx.quick ? 64 : 256,
    // 128 is the authors' DataLoader batch size (inference_config.yaml).
    peer: { images: s.peerImages, batches: ctx.quick ? [1, 32] : [1, 32, 128], repeats: s.repeats },
  };
}

async function runSections(ctx: BenchContext, report: BenchReport, faces: BenchFace[], small: BenchModel[], want: Set<BenchSection>): Promise<void> {
  const models: BenchModel[] = [...small];
  if (!ctx.quick) {
    const big = await section(report, 'export', ctx, () => randomIResNet(ctx));
    if (big) {
      models.push(big);
      const int8 = await section(report, 'quantise', ctx, () => randomIResNetInt8(ctx, big, faces));
      if (int8) {
        models.push(int8);
        if (int8.note) ctx.notes.push(int8.note);
      }
    }
  } else {
    ctx.notes.push('quick mode: the iResNet-100-size regressor is skipped (full mode only)');
  }

  report.bare = [];
  for (const m of want.has('bare') ? models : []) {
    const r = await section(report, `bare ${m.id}`, ctx, async () => {
      const rt = benchRuntime(ctx);
      try {
        await rt.load(m.id);
        const { images, repeats } = planFor(ctx, m).bare;
        return await benchBare(rt, m, faces, { batches: ctx.sizes.batches, repeats, images, threads: ctx.intraOpThreads, noSpin: !isIResNet(m.id) });
      } finally {
        await rt.close();
      }
    });
    if (r) report.bare.push(r);
  }

  const broker = want.has('gate') ? await section(report, 'broker', ctx, () => benchBroker(ctx.log)) : undefined;
  if (broker) {
    report.overhead = [];
    report.latency = [];
    report.transport = [];
    try {
      for (const m of models) {
        await section(report, `end-to-end ${m.id}`, ctx, async () => {
          // Latency through the broker is measured for the default inline model (models[0]) only: one table per client, the model the gate runs.
          const plan = planFor(ctx, m);
          const latencyLoads = m === models[0] ? plan.latencyLoads : [];
          // Each client's gate right after the other's, against one standalone denominator: the
          // shared host's load drifts over minutes, so the clients are compared within one model's runs.
          const gates: GateRuns[] = [];
          for (const client of KAFKA_CLIENT_KINDS) {
            gates.push(await runGate(ctx, m, faces, { client, brokers: broker.brokers, warmup: plan.warmup, frames: plan.frames, runs: plan.runs, latencyLoads, latencySeconds: ctx.sizes.latencySeconds }));
          }
          const rows = await overheadFrom(ctx, m, faces, gates, plan.inferenceImages, latencyLoads.length > 0);
          report.overhead!.push(...rows);
          gates.forEach((gate, i) => {
            if (!gate.latency.length) return;
            const batchInferenceMs = rows[i].standalone.poolBatchWallMs ?? NaN;
            report.latency!.push({
              modelId: m.id, client: gate.client, saturationFramesPerSecond: rows[i].gate.framesPerSecond, streamingFramesPerSecond: gate.streamingFramesPerSecond, maxDelayMs: ctx.maxDelayMs, batchInferenceMs,
              boundMs: ctx.maxDelayMs + 2 * batchInferenceMs, rows: gate.latency,
            });
          });
        });
      }
      for (const client of KAFKA_CLIENT_KINDS) {
        const t = await section(report, `end-to-end transport only (${client})`, ctx, async () => {
          const plan = planFor(ctx, models[0]);
          const gate = await runGate(ctx, models[0], faces, { client, brokers: broker.brokers, warmup: plan.warmup, frames: plan.frames, runs: plan.runs, latencyLoads: [], latencySeconds: 0, transportOnly: true });
          return transportFrom(gate);
        });
        if (t) report.transport.push(t);
      }
    } finally {
      await broker.release();
    }
  }

  report.peer = [];
  for (const m of want.has('peer') ? models : []) {
    if (!m.peer) {
      ctx.notes.push(`peer: no PyTorch twin of ${m.id} is known to the bench, so it has no peer row`);
      continue;
    }
    const r = await section(report, `peer ${m.id}`, ctx, () => benchPeer(ctx, m, faces, planFor(ctx, m).peer));
    if (r) report.peer.push(r);
  }

  if (!want.has('diffusion')) return;
  report.diffusion = await section(report, 'full DifFIQA', ctx, () => benchFullDifFIQA(ctx, faces.slice(0, ctx.sizes.diffusionImages), ctx.quick ? [20] : [20, 80], !ctx.quick));
}

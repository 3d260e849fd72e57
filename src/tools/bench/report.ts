import type { BareResult } from './bare.js';
import type { DiffusionResult } from './diffusion.js';
import type { LatencyRow } from './e2e.js';
import type { OverheadResult } from './overhead.js';
import type { TransportResult } from './transport.js';
import type { PeerResult } from './peer.js';
import type { BatchRow, PrepResult } from './prep.js';

export interface LatencyResult {
  modelId: string;
  /** The gate's Kafka client. */
  client: string;
  saturationFramesPerSecond: number;
  /** What the loads are fractions of (the 100 % row's own rate is the backlog saturation). */
  streamingFramesPerSecond?: number;
  maxDelayMs: number;
  /** Wall ms of one full batch (maxBatch) through the pool, measured standalone. */
  batchInferenceMs: number;
  /** maxDelay + 2 × one batch's inference time: what p99 at 70 % load is compared with. */
  boundMs: number;
  rows: LatencyRow[];
}

export interface BenchReport {
  name: string;
  mode: 'prep' | 'quick' | 'full';
  command: string;
  startedAt: string;
  durationS: number;
  machine: { cpu: string; cores: number; memGiB: number; loadAvgStart: number[]; loadAvgEnd: number[]; node: string; nodeFlags?: string[]; onnxruntime: string; platform: string };
  settings: { workers: number; intraOpThreads: number; maxBatch: number; maxDelayMs: number; repeats: number; images: number };
  notes: string[];
  /** Sections that failed, with why; the others still ran. */
  errors: Record<string, string>;
  prep?: PrepResult;
  bare?: BareResult[];
  overhead?: OverheadResult[];
  /** The gate with a fixed score in place of prepare + regress (bench/transport.ts), per Kafka client. */
  transport?: TransportResult[];
  /** Per Kafka client, the default inline model. */
  latency?: LatencyResult[];
  peer?: PeerResult[];
  diffusion?: DiffusionResult[];
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const byBatch = (rows: BatchRow[] | undefined, b: number) => rows?.find((r) => r.batch === b);

function table(head: string[], rows: (string | number)[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** The transport-only gate of each client, and each model's ratio with its client's transport counted in the denominator. */
function transportLines(transport: TransportResult[], overhead: OverheadResult[]): string[] {
  return transport.flatMap((t) => {
    const split = t.threadsMsPerFrame ? ` (main ${f(t.threadsMsPerFrame.main)}, other threads ${f(t.threadsMsPerFrame.other + t.threadsMsPerFrame.libvips + t.threadsMsPerFrame.inference)})` : '';
    return [
      `Transport alone, ${t.client} (the same gate with a fixed score in place of prepare + regress: Kafka, Avro, decide, bookkeeping): ${f(t.cpuMsPerFrame, 3)} CPU ms/frame${split} at ${f(t.framesPerSecond, 1)} frames/s.`,
      ...overhead.filter((o) => o.client === t.client).map((o) => `${label(o)}: gate ÷ (decode+align + bare inference on the gate's cores + transport alone) = ${f(o.gate.cpuMsPerFrame / (o.standalone.decodeAlignConcurrentCpuMs + o.standalone.bareLanesInferenceCpuMs + t.cpuMsPerFrame), 3)}.`),
    ];
  });
}

const label = (o: { modelId: string; client: string }) => `${o.modelId} (${o.client})`;

/** Per model, each client's gate CPU per frame against the first client's (the same standalone work divides both). */
function clientLines(overhead: OverheadResult[]): string[] {
  const models = [...new Set(overhead.map((o) => o.modelId))];
  return models.flatMap((m) => {
    const [base, ...others] = overhead.filter((o) => o.modelId === m);
    return others.map((o) => `${m}: ${o.client} ÷ ${base.client} gate CPU per frame = ${f(o.gate.cpuMsPerFrame / base.gate.cpuMsPerFrame, 3)} (${f(o.gate.cpuMsPerFrame)} vs ${f(base.gate.cpuMsPerFrame)} ms), frames/s ${f(o.gate.framesPerSecond, 1)} vs ${f(base.gate.framesPerSecond, 1)}.`);
  });
}

/** The gate's CPU per frame by thread role, each set against the standalone work it contains. */
function threadLine(o: OverheadResult): string {
  const t = o.gate.threadsMsPerFrame;
  if (!t) return '';
  return ` Gate CPU ms per frame by thread: main ${f(t.main)} (event loop: Kafka, Avro, warp, gate), inference ${f(t.inference)} ` +
    `(worker + ORT threads; standalone pool ${f(o.standalone.poolInferenceCpuMs)}, bare ${f(o.standalone.bareLanesInferenceCpuMs)} on ${o.standalone.lanes} lane(s), ${f(o.standalone.bareInferenceCpuMs)} on one), libvips ${f(t.libvips)}, ` +
    `other ${f(t.other)} (libuv pool: sharp; V8 GC/compiler helpers); decode+align standalone ${f(o.standalone.decodeAlignConcurrentCpuMs)} with ${o.standalone.decodeInFlight} in flight, ${f(o.standalone.decodeAlignCpuMs)} one at a time.`;
}

/** G operations (2 per multiply-accumulate) per second per thread, from ms per image on `threads` threads. */
const perThread = (gmac: number, msPerImage: number, threads: number) => (2 * gmac) / ((msPerImage / 1000) * threads);

/** The markdown summary printed at the end and written as bench/results/latest.md. */
export function renderMarkdown(r: BenchReport): string {
  const out: string[] = [
    `# diffiqa-gate bench — ${r.mode} (${r.startedAt})`, '',
    `\`${r.command}\` · ${r.machine.cores} × ${r.machine.cpu} · load avg ${r.machine.loadAvgStart.map((x) => x.toFixed(1)).join('/')} at start · node ${r.machine.node}${r.machine.nodeFlags?.length ? ` ${r.machine.nodeFlags.join(' ')}` : ''} · onnxruntime-node ${r.machine.onnxruntime} · ` +
      `${r.settings.workers} worker × ${r.settings.intraOpThreads} intra-op threads, maxBatch ${r.settings.maxBatch}, maxDelay ${r.settings.maxDelayMs} ms · medians of ${r.settings.repeats} repeats · ${Math.round(r.durationS)} s`, '',
  ];
  if (r.prep) {
    const p = r.prep;
    out.push(`## 1. Scoring core (${p.images} LFW images)`, '');
    out.push(...table(['step', 'ms/image (wall)', 'CPU ms/image'], [
      ['decode + align (message landmarks)', f(p.landmarkPath.msPerImage), f(p.landmarkPath.cpuMsPerImage)],
      ['decode + align, 16 images in flight', f(p.landmarkPathConcurrent.msPerImage), f(p.landmarkPathConcurrent.cpuMsPerImage)],
      ['decode + detect + align (RetinaFace via pool)', f(p.detectorPath.msPerImage), f(p.detectorPath.cpuMsPerImage)],
      ...p.embed.map((e) => [`embed ${p.embedderId} via pool, batch ${e.batch}`, f(e.msPerImage), f(e.cpuMsPerImage)]),
    ]), '');
  }
  if (r.bare?.length) {
    out.push('## 2. Bare inference limits (ms/image, wall; CPU in brackets)', '');
    const batches = r.bare[0].bare.map((b) => b.batch);
    const rows: string[][] = [];
    for (const m of r.bare) {
      const cell = (rows: BatchRow[] | undefined, b: number) => { const x = byBatch(rows, b); return x ? `${f(x.msPerImage)} (${f(x.cpuMsPerImage)})` : '—'; };
      rows.push([m.modelId, 'bare session', ...batches.map((b) => cell(m.bare, b))]);
      rows.push([m.modelId, 'product pool', ...batches.map((b) => cell(m.pool, b))]);
      if (m.bareNoSpin) rows.push([m.modelId, 'bare, spinning off', ...batches.map((b) => cell(m.bareNoSpin, b))]);
    }
    out.push(...table(['model', 'path', ...batches.map((b) => `batch ${b}`)], rows), '');
  }
  if (r.overhead?.length) {
    out.push('## 3. Overhead at saturation (gate process CPU per frame ÷ standalone work)', '');
    out.push('Standalone work on the gate\'s cores: decode + align with a chunk of images in flight, and bare onnxruntime sessions, one per worker, running at once (the pool\'s shape without the pool). In brackets: one image at a time and one session, the other core idle (the denominator of runs before 2026-12-06, in "ratio, one core").', '');
    out.push(...table(['model', 'client', 'frames/s', 'gate CPU ms/frame', 'decode+align CPU ms', 'bare inference CPU ms (batch)', 'ratio (bare)', 'ratio, one core', 'ratio (pool)', 'idle CPU ms/s'],
      r.overhead.map((o) => [o.modelId, o.client, f(o.gate.framesPerSecond, 1), f(o.gate.cpuMsPerFrame), `${f(o.standalone.decodeAlignConcurrentCpuMs)} (${f(o.standalone.decodeAlignCpuMs)})`,
        `${f(o.standalone.bareLanesInferenceCpuMs)} (${f(o.standalone.bareInferenceCpuMs)}), batch ${o.standalone.batch}`, f(o.ratio, 3), f(o.ratioOneCore, 3), f(o.ratioToPool, 3), f(o.gate.idleCpuMsPerSecond, 1)])), '');
    out.push(...r.overhead.map((o) => `${label(o)}: ratio ${f(o.ratio, 3)} — goal ≤ 1.05 ${o.ratio <= 1.05 ? 'met' : 'NOT met'}.`), '');
    const clients = clientLines(r.overhead);
    if (clients.length) out.push(...clients, '');
    out.push(...r.overhead.map((o) => `${label(o)}: mean batch ${f(o.gate.meanBatch, 1)}.${threadLine(o)}`), '');
    if (r.transport?.length) out.push(...transportLines(r.transport, r.overhead), '');
    for (const o of r.overhead.filter((x) => x.profile)) {
      const p = o.profile!;
      out.push(`${label(o)}: main-thread profile during saturation, busy ${f(p.busyMs, 0)} of ${f(p.totalMs, 0)} ms: ` +
        p.categories.slice(0, 10).map((c) => `${c.name} ${f((100 * c.ms) / p.busyMs, 1)} %`).join(', '), '');
    }
  }
  if (r.peer?.length) {
    out.push('## 4. Peer: the authors\' PyTorch path vs ours, same images, same threads', '');
    out.push(`Threads: the peer's PyTorch gets the pool's whole budget (${r.peer[0].threads}); ours runs its ${r.settings.workers} worker(s) × ${r.settings.intraOpThreads} ` +
      'intra-op thread(s), with a batch in flight per worker (as the `score` command and the gate keep them). "Model ms/img ours" runs a batch per worker at a time, so both sides use the whole thread budget.', '');
    out.push(...table(['model', 'batch', 'ours img/s', 'peer img/s', 'speed-up', 'model ms/img ours', 'model ms/img peer', 'model speed-up', 'max |Δscore|'],
      r.peer.flatMap((p) => p.rows.map((x) => [p.modelId, x.batch, f(x.oursImagesPerSecond, 1), f(x.peerImagesPerSecond, 1), `${f(x.speedup)}×`,
        f(x.oursModelMsPerImage), f(x.peerModelMsPerImage), `${f(x.modelSpeedup)}×`, p.scoreMaxAbsDiff.toExponential(1)]))), '');
    for (const p of r.peer) {
      const worst = Math.min(...p.rows.map((x) => x.speedup));
      out.push(`${p.modelId}: slowest end-to-end speed-up ${f(worst)}× — goal ≥ 2× ${worst >= 2 ? 'met' : 'NOT met'} at every batch size.`);
    }
    const rates = r.peer.filter((p) => p.gmacPerImage).map((p) => `${p.modelId} ${p.rows.map((x) => `batch ${x.batch}: ours ${f(perThread(p.gmacPerImage!, x.oursModelMsPerImage, p.threads), 0)}, peer ${f(perThread(p.gmacPerImage!, x.peerModelMsPerImage, p.threads), 0)}`).join('; ')}`);
    if (rates.length) {
      out.push('', `Arithmetic rate of the model runs, G multiply-add operations (2 × MAC) per second per thread (float: GFLOP/s; compare with one core's fp32 FMA peak; int8: GOP/s): ${rates.join(' · ')}.`);
    }
    out.push('');
  }
  for (const l of r.latency ?? []) {
    out.push(`## 5. Latency through the broker (${l.modelId}, ${l.client}; saturation ${f(l.saturationFramesPerSecond, 1)} frames/s from a backlog` +
      (l.streamingFramesPerSecond ? `, ${f(l.streamingFramesPerSecond, 1)} frames/s sustained while streamed)` : ')'), '');
    if (l.streamingFramesPerSecond) {
      out.push('Loads are fractions of the streaming saturation: the rate the gate kept up with while fed at its backlog saturation rate (the 100 % row, fed at that rate), with the load generator and the broker on the same cores.', '');
    }
    out.push(...table(['load', 'rate/s', 'frames', 'p50 ms', 'p95 ms', 'p99 ms', 'p99 at consumer ms', 'mean batch'],
      l.rows.map((x) => [`${Math.round(x.load * 100)} %`, f(x.ratePerSecond, 1), x.frames, x.p50, x.p95, x.p99, x.arrivedP99, f(x.meanBatch, 1)])), '');
    out.push('Where the time goes (p50 / p99 ms): before the gate = produce → broker → fetched by the gate\'s handler (includes waiting for the previous fetch round); in the gate = handler → event built; stages are per chunk.', '');
    const stageNames = [...new Set(l.rows.flatMap((x) => Object.keys(x.breakdown.stages)))];
    const pair = (v: [number, number] | undefined) => (v ? `${v[0]} / ${v[1]}` : '—');
    out.push(...table(['load', 'before the gate', 'in the gate', ...stageNames],
      l.rows.map((x) => [`${Math.round(x.load * 100)} %`, pair(x.breakdown.beforeGate), pair(x.breakdown.inGate), ...stageNames.map((n) => pair(x.breakdown.stages[n]))])), '');
    const at70 = l.rows.find((x) => Math.abs(x.load - 0.7) < 1e-9);
    out.push(`Bound for p99 at 70 %: maxDelay ${l.maxDelayMs} ms + 2 × ${f(l.batchInferenceMs)} ms (one batch of ${r.settings.maxBatch}) = ${f(l.boundMs, 1)} ms` +
      (at70 ? `; measured p99 ${at70.p99} ms: ${at70.p99 <= l.boundMs ? 'within the bound' : `${f(at70.p99 / l.boundMs, 1)}× the bound`}.` : '.'), '');
  }
  if (r.diffusion?.length) {
    out.push('## 6. Full DifFIQA on CPU', '');
    // A call runs up to `batchSize` samples: passes = calls × batch size when batches are full.
    out.push(...table(['denoiser', 'UNet batch', 'images', 'ms/image', 'UNet calls/image (batched)', 'UNet sample passes/image'],
      r.diffusion.flatMap((d) => d.rows.map((x) => [d.denoiserId, x.batchSize, x.images, f(x.msPerImage, 1), f(x.unetCallsPerImage, 2), f(x.unetCallsPerImage * x.batchSize, 0)]))), '');
  }
  if (r.notes.length) out.push('Notes:', ...r.notes.map((n) => `- ${n}`), '');
  const errs = Object.entries(r.errors);
  if (errs.length) out.push('Sections that failed:', ...errs.map(([k, v]) => `- ${k}: ${v.split('\n')[0]}`), '');
  return out.join('\n');
}

// The gate at saturation for a long backlog, for profiling it from outside: prints the gate's CPU
// per frame split by thread (Linux /proc), and with PERF=SECONDS records the gate process with
// `perf record -F 999` into .cache/prof/perf.data (run node with --perf-basic-prof for JS names).
//   npm run build && FRAMES=6000 node bench/perf-gate.mjs
//   FRAMES=6000 PERF=12 node --perf-basic-prof bench/perf-gate.mjs
//   perf report -i .cache/prof/perf.data --no-children --sort pid,dso
//   TRANSPORT=1 FRAMES=20000 node bench/perf-gate.mjs   # the transport-only gate (fixed score: Kafka, Avro, decide)
// The pool shape comes from the normal configuration (DIFFIQA_GATE__INFERENCE__WORKERS, …).
import { spawn, execSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (m) => import(path.join(root, 'dist/src/plugin', m));
const tools = (m) => import(path.join(root, 'dist/src/tools', m));
// This process is the producer and the watcher on the gate's cores: it runs with the gate's V8 flags too.
const restarted = (await tools('bench/node-flags.js')).restartWithNodeFlags(fileURLToPath(import.meta.url), process.argv.slice(2));
if (restarted !== undefined) process.exit(restarted);
const { buildConfig } = await dist('config/load.js');
const { benchRuntime, benchWorkDir, FULL } = await tools('bench/context.js');
const { loadBenchFaces } = await tools('bench/faces.js');
const { smallRegressor, writeBenchManifest } = await tools('bench/models.js');
const { benchBroker } = await tools('bench/broker.js');
const { GateChild, threadsPerFrame } = await tools('bench/child.js');
const { childSettings } = await tools('bench/e2e.js');
const { Feeder, FinalWatcher } = await tools('bench/traffic.js');
const { createKafkajsClient } = await dist('kafka/kafkajs.js');
const { threadCpu } = await tools('bench/threads.js');
const { createCodec, embeddedRegistry } = await dist('pipeline/codecs.js');

const cfg = buildConfig({}, process.env);
const transport = process.env.TRANSPORT === '1';
const workDir = benchWorkDir();
const ctx = {
  quick: false, sizes: FULL, cfg, sharedDir: path.resolve(process.env.DIFFIQA_SHARED ?? path.join(root, '../shared')), workDir,
  manifestPath: path.join(workDir, 'manifest.json'), intraOpThreads: cfg.get('inference.intraOpThreads'), workers: cfg.get('inference.workers'),
  maxBatch: cfg.get('inference.maxBatch'), maxDelayMs: cfg.get('inference.maxDelayMs'), notes: [], log: (m) => console.error(m),
};
await writeBenchManifest(ctx);
const rt = benchRuntime(ctx);
await rt.load(cfg.get('models.detector'));
const faces = await loadBenchFaces(rt, cfg, ctx.sharedDir, workDir, 64);
const model = await smallRegressor(ctx, rt);
await rt.close();

const broker = await benchBroker(ctx.log);
const run = `perf-${Date.now() % 100000}`;
const topics = { input: `${run}-in`, output: `${run}-out`, escalation: `${run}-esc`, dlq: `${run}-dlq` };
const client = createKafkajsClient({ brokers: broker.brokers, clientId: `${run}-load`, maxWaitTimeMs: 100 });
const admin = client.admin();
await admin.createTopics([{ topic: topics.input, partitions: 3 }]);
await admin.close();
const codec = createCodec(await embeddedRegistry(), topics);
const producer = client.producer();
await producer.connect();
const feeder = new Feeder(producer, codec, topics.input, faces, run, 3);
const child = await GateChild.start(childSettings(ctx, model, run, broker.brokers), { transportOnly: transport });
const watcher = new FinalWatcher(client.consumer({ groupId: `${run}-watch` }), codec, topics);
try {
  await watcher.start();
  await feeder.burst(64);
  await watcher.waitFor(feeder.sent, 300_000);
  const pid = Number(execSync('pgrep -f gate-child.js | head -1').toString().trim());
  // The backlog first, so that the load generator is quiet while the gate drains it. The
  // transport-only gate keeps up with the feeder, so there it is measured while being fed.
  const backlog = () => feeder.burst(Number(process.env.FRAMES ?? 6000));
  if (!transport) await backlog();
  const threads = () => new Map(threadCpu(pid).map((t) => [t.tid, t]));
  const s0 = await child.sample(), t0 = threads(), w0 = Date.now();
  if (transport) await backlog();
  let perf;
  if (process.env.PERF) {
    mkdirSync(path.join(root, '.cache/prof'), { recursive: true });
    perf = spawn('perf', ['record', '-F', '999', '-p', String(pid), '-o', path.join(root, '.cache/prof/perf.data'), '--', 'sleep', process.env.PERF], { stdio: 'inherit' });
  }
  await watcher.waitFor(feeder.sent, 600_000);
  const s1 = await child.sample(), t1 = threads(), seconds = (Date.now() - w0) / 1000;
  if (perf) await new Promise((r) => perf.on('exit', r));
  const frames = s1.records - s0.records;
  const cpu = (s1.cpu.user - s0.cpu.user + s1.cpu.system - s0.cpu.system) / 1000;
  console.log(`gate pid ${pid}: ${frames} frames in ${seconds.toFixed(1)} s = ${(frames / seconds).toFixed(1)} frames/s, ${(cpu / frames).toFixed(3)} CPU ms/frame, mean batch ${((s1.items - s0.items) / (s1.batches - s0.batches)).toFixed(1)}, input paused ${Math.round(s1.pausedMs - s0.pausedMs)} ms`);
  console.log(`by role (ms/frame): ${Object.entries(threadsPerFrame(s0, s1, frames) ?? {}).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
  for (const [tid, v] of t1) {
    const ms = v.ms - (t0.get(tid)?.ms ?? 0);
    if (ms > 0) console.log(`  thread ${tid} (${v.name}${tid === pid ? ', main' : ''}): ${(ms / frames).toFixed(3)} ms/frame`);
  }
} finally {
  await child.stop().catch(() => false);
  await watcher.stop().catch(() => undefined);
  await producer.disconnect().catch(() => undefined);
  await broker.release();
}

#!/usr/bin/env node
/* global process, console, performance */
/**
 * GPU check, Node part (deploy/gpu/check.sh runs it): does onnxruntime-node's CUDA provider load,
 * and how fast is full DifFIQA (DiffusionScorer via benchDiffusion) at UNet batch sizes 20/80/160
 * on CUDA against the CPU. Imports the built product from dist/, so what is measured is what ships.
 *
 *   node deploy/gpu/check.mjs [--cpu-only] [--json FILE] [--images N] [--cpu-images N]
 *        [--batch-sizes 20,80,160] [--repeats 10] [--budget-s 240] [--denoiser ID] [--embedder ID]
 *        [--manifest FILE]
 *
 * Exit: 0 ok (CUDA ran the denoiser, or --cpu-only finished) · 1 CUDA did not load or a run failed
 * · 2 usage. The JSON report is written either way, to --json or $OUT/gpu-check.json.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = path.join(ROOT, 'dist', 'src');
const t0 = performance.now();

const { values: opt } = parseArgs({
  options: {
    'cpu-only': { type: 'boolean', default: false },
    json: { type: 'string' },
    images: { type: 'string', default: '16' },
    'cpu-images': { type: 'string', default: '8' },
    'batch-sizes': { type: 'string', default: '20,80,160' },
    repeats: { type: 'string', default: '10' },
    'budget-s': { type: 'string', default: '240' },
    denoiser: { type: 'string' },
    embedder: { type: 'string' },
    manifest: { type: 'string', multiple: true, default: [] },
  },
});
const int = (name) => {
  const v = Number(opt[name]);
  if (!Number.isInteger(v) || v < 1) { console.error(`--${name} must be a positive integer, got ${opt[name]}`); process.exit(2); }
  return v;
};
const cpuOnly = opt['cpu-only'];
const batchSizes = opt['batch-sizes'].split(',').map(Number);
if (batchSizes.some((b) => !Number.isInteger(b) || b < 1)) { console.error(`--batch-sizes must be positive integers, got ${opt['batch-sizes']}`); process.exit(2); }
const repeats = int('repeats');
const budgetMs = int('budget-s') * 1000;

const dist = (rel) => {
  const file = path.join(DIST, rel);
  if (!existsSync(file)) { console.error(`${file} missing: build first (npm run build)`); process.exit(1); }
  return import(pathToFileURL(file).href);
};
const { ModelRuntime } = await dist('plugin/scorers/runtime.js');
const { benchDiffusion } = await dist('tools/bench/diffusion-throughput.js');
const { loadManifest } = await dist('plugin/assets/manifest.js');
const { sha256File } = await dist('plugin/assets/resolver.js');
const { schema } = await dist('plugin/config/schema.js');
const { cacheDir } = await dist('plugin/core/paths.js');

const report = {
  startedAt: new Date().toISOString(), host: os.hostname(), cpus: os.availableParallelism(), node: process.version,
  onnxruntimeNode: JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version,
  cpuOnly, repeats, batchSizes, models: {}, cudaProbe: null, providers: {}, rows: [], skipped: [], errors: [],
};

/** The configured models when the manifest has them; otherwise the CI fixture denoiser, named as such. */
async function pickModels() {
  const extra = [...opt.manifest];
  const manifest = loadManifest(extra);
  const has = (id) => manifest.models.some((m) => m.id === id);
  const embedder = opt.embedder ?? (has(schema['models.embedder'].default) ? schema['models.embedder'].default : manifest.models.find((m) => m.role === 'embedder')?.id);
  let denoiser = opt.denoiser ?? (has(schema['models.denoiser'].default) ? schema['models.denoiser'].default : manifest.models.find((m) => m.role === 'denoiser')?.id);
  let note;
  if (!denoiser) {
    // Throughput of a tiny UNet says little about the production one; the report says which ran.
    const file = path.join(cacheDir(), 'fixtures', 'tiny-denoiser.onnx');
    if (!existsSync(file)) throw new Error(`no denoiser in the manifest and no fixture at ${file} (bash models/ci.sh builds it)`);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'gpu-check-'));
    const manifestFile = path.join(tmp, 'manifest.json');
    denoiser = 'gpu-check-fixture-tiny-denoiser';
    writeFileSync(manifestFile, JSON.stringify({ models: [{
      id: denoiser, version: 'fixture', role: 'denoiser', file: `${denoiser}.onnx`, sha256: await sha256File(file),
      bundledPath: path.relative(ROOT, file), input: { name: 'x', layout: 'NCHW', shape: [1, 3, 112, 112], colorOrder: 'RGB', timestepName: 't' },
      outputs: ['x0'], batch: 'dynamic', normalisation: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, licence: 'test fixture',
    }] }));
    extra.push(manifestFile);
    note = 'fixture tiny denoiser (models/ci.sh), NOT the production UNet: its timings do not predict production throughput';
  }
  if (!embedder) throw new Error('no embedder in the manifest');
  return { denoiser, embedder, manifests: extra, note };
}

/** Aligned faces: the parity fixture's real LFW crops when present, synthetic ones otherwise (speed does not depend on content). */
function faces(n) {
  const dir = path.join(cacheDir(), 'fixtures', 'diffiqa-parity');
  const real = ['face0.u8', 'face1.u8'].map((f) => path.join(dir, f)).filter(existsSync).map((f) => new Uint8Array(readFileSync(f)));
  const out = [];
  for (let i = 0; i < n; i++) {
    let data = real[i % Math.max(real.length, 1)];
    if (!data || data.length !== 3 * 112 * 112) {
      data = new Uint8Array(3 * 112 * 112);
      for (let p = 0; p < data.length; p++) data[p] = (Math.sin(p * 0.013 + i) * 60 + 128 + ((p * 2654435761 + i) % 17)) & 255;
    }
    out.push({ size: 112, data, landmarkSource: 'message', landmarks: [], eyeDistance: 0 });
  }
  return { images: out, source: real.length ? 'parity fixture LFW crops (repeated)' : 'synthetic' };
}

/**
 * CUDA only, in a child process: the pool falls back to CPU silently, and ORT writes the real
 * reason (which library failed to load) to the native stderr, not into the JS error.
 */
function probeCuda(file) {
  const script = `require('onnxruntime-node').InferenceSession.create(process.argv[1], { executionProviders: ['cuda'] })
    .then((s) => s.release()).then(() => process.exit(0), (e) => { console.error('JS: ' + e.message); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script, file], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  // eslint-disable-next-line no-control-regex
  const text = (r.stderr ?? '').replace(/\x1b\[[0-9;]*m/g, '');
  const specific = [...text.matchAll(/(Failed to load library .*?with error: .*|CUDA failure [^;]*;|cuDNN is not available[^.]*)/g)].map((m) => m[1].trim());
  const js = text.match(/JS: (.*)/)?.[1].slice(0, 300);
  const error = [...new Set(specific)].join(' | ') || js || `exit ${r.status ?? r.signal}`;
  return r.status === 0 ? { ok: true } : { ok: false, error, stderr: text.slice(-4000) };
}

async function bench(label, eps, threads, models, images) {
  const rt = new ModelRuntime({ manifestPaths: models.manifests, executionProviders: eps, workers: 1, intraOpThreads: threads, allowDownload: false });
  try {
    const den = await rt.load(models.denoiser);
    const emb = await rt.load(models.embedder);
    report.providers[label] = { denoiser: den.provider, embedder: emb.provider };
    console.error(`[${label}] denoiser on ${den.provider}, embedder on ${emb.provider}`);
    for (const b of batchSizes) {
      if (!images) { report.skipped.push({ device: label, batchSize: b, why: 'CUDA provider did not load' }); continue; }
      const elapsed = performance.now() - t0;
      if (elapsed > budgetMs) { report.skipped.push({ device: label, batchSize: b, why: `time budget ${budgetMs / 1000}s spent` }); continue; }
      const [row] = await benchDiffusion(rt, { denoiserId: models.denoiser, embedderId: models.embedder, images, batchSizes: [b], repeats });
      const r = { device: label, ...row, imagesPerSecond: 1000 / row.msPerImage, embedderProvider: emb.provider };
      report.rows.push(r);
      console.error(`[${label}] batch ${b}: ${row.msPerImage.toFixed(1)} ms/image on ${row.provider}`);
    }
    return den.provider;
  } finally {
    await rt.close();
  }
}

const fmt = (x, d = 1) => (x === undefined ? '–' : x.toFixed(d));
function markdown() {
  const lines = [
    `GPU check ${report.startedAt} on ${report.host} (onnxruntime-node ${report.onnxruntimeNode}, Node ${report.node})`,
    '',
    `CUDA provider: ${cpuOnly ? 'not tried (--cpu-only)' : report.cudaProbe?.ok ? 'loads' : `does NOT load: ${report.cudaProbe?.error ?? 'not reached'}`}`,
    `Denoiser: ${report.models.denoiser}${report.models.note ? ` (${report.models.note})` : ''}; embedder: ${report.models.embedder}; faces: ${report.models.faces}; R = ${repeats}`,
    '',
    '| device | provider | UNet batch | images | ms / image | images / s | UNet calls / image | mean score | speed-up vs CPU |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of report.rows) {
    const cpu = report.rows.find((c) => c.device === 'cpu' && c.batchSize === r.batchSize);
    const up = r.provider !== 'cpu' && cpu ? `${fmt(cpu.msPerImage / r.msPerImage)}×` : '–';
    lines.push(`| ${r.device} | ${r.provider} | ${r.batchSize} | ${r.images} | ${fmt(r.msPerImage)} | ${fmt(r.imagesPerSecond, 2)} | ${fmt(r.unetCallsPerImage, 2)} | ${fmt(r.meanScore, 4)} | ${up} |`);
  }
  for (const s of report.skipped) lines.push(`| ${s.device} | skipped | ${s.batchSize} | | | | | | ${s.why} |`);
  return lines.join('\n');
}

let ok = true;
try {
  const models = await pickModels();
  const gpuFaces = faces(int('images'));
  const cpuFaces = faces(int('cpu-images'));
  report.models = { denoiser: models.denoiser, embedder: models.embedder, note: models.note, faces: gpuFaces.source };
  if (!cpuOnly) {
    const probeRt = new ModelRuntime({ manifestPaths: models.manifests, executionProviders: ['cpu'], workers: 1, allowDownload: false });
    const file = await probeRt.resolver.resolve(probeRt.entry(models.denoiser));
    await probeRt.close();
    report.cudaProbe = probeCuda(file);
    console.error(`[probe] CUDA provider ${report.cudaProbe.ok ? 'loads' : `fails: ${report.cudaProbe.error}`}`);
    // Without CUDA the "cuda" rows would time the CPU fallback and eat the budget the CPU rows need.
    const provider = await bench('cuda', ['cuda', 'cpu'], 1, models, report.cudaProbe.ok ? gpuFaces.images : null);
    if (provider !== 'cuda') { ok = false; report.errors.push(`CUDA was requested but the product's pool runs the denoiser on ${provider}`); }
  }
  await bench('cpu', ['cpu'], os.availableParallelism(), models, cpuFaces.images);
} catch (err) {
  ok = false;
  report.errors.push(String(err?.stack ?? err));
  console.error(err);
}
report.seconds = (performance.now() - t0) / 1000;
report.ok = ok;

const md = markdown();
console.log(md);
if (report.errors.length) console.log(`\nErrors:\n${report.errors.map((e) => `- ${e.split('\n')[0]}`).join('\n')}`);
const jsonFile = opt.json ?? (process.env.OUT ? path.join(process.env.OUT, 'gpu-check.json') : undefined);
if (jsonFile) {
  mkdirSync(path.dirname(jsonFile), { recursive: true });
  writeFileSync(jsonFile, JSON.stringify({ ...report, markdown: md }, null, 2));
  console.error(`report: ${jsonFile}`);
}
process.exit(ok ? 0 : 1);

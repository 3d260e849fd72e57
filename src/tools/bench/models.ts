import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../../plugin/assets/resolver.js';
import type { ModelEntry } from '../../plugin/assets/manifest.js';
import { GateError, toGateError } from '../../plugin/core/errors.js';
import { cacheDir, packageRoot } from '../../plugin/core/paths.js';
import type { ModelRuntime } from '../../plugin/scorers/runtime.js';
import type { BenchContext } from './context.js';
import { writeAlignedPngs, type BenchFace } from './faces.js';
import { runPythonJson } from './python.js';

/** The gate's default inline model first, then the earlier one, so one run compares their cost. */
export const OWN_REGRESSORS: readonly (readonly [string, string])[] = [
  ['ediffiqa-t-own', "the project's eDifFIQA-T, the default"],
  ['diffiqa-r-own', "the project's own DifFIQA(R)"],
];
export const OWN_DENOISER = 'diffiqa-unet-own';
export const FIXTURE_REGRESSOR = 'tiny-regressor';
export const FIXTURE_DENOISER = 'fixture-tiny-denoiser';
export const RANDOM_IRESNET = 'diffiqa-r-random';
export const RANDOM_IRESNET_INT8 = 'diffiqa-r-random-int8';
/** The iResNet-100-size models cost ~0.1–0.2 s per image here: the bench gives them small counts. */
export const isIResNet = (id: string) => id === RANDOM_IRESNET || id === RANDOM_IRESNET_INT8;

/** A regressor under test, and how the Python peer can rebuild the same network. */
export interface BenchModel {
  id: string;
  label: string;
  note?: string;
  peer?: { model: 'tiny-regressor' | 'diffiqa-r-random'; checkpoint?: string };
  /** Multiply-accumulates per image, where known: the peer section turns times into arithmetic rates with it. */
  gmacPerImage?: number;
}

/**
 * iResNet-100 + Linear at 112 × 112: the convolutions' and the linear layer's multiply-accumulates in
 * the exported graph (out channels × in channels × kernel area × output pixels, shapes from ONNX shape
 * inference), 12.09 G, i.e. the 24.2 GFLOP usually quoted for IR-100.
 */
const IRESNET100_GMAC = 12.09;

const NORM_05 = { mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.5, 0.5, 0.5] as [number, number, number] };
const REGRESSOR_INPUT: ModelEntry['input'] = { name: 'input', layout: 'NCHW', shape: [1, 3, 112, 112], colorOrder: 'RGB' };

/** Built files are referenced in place (bundledPath, relative to the repository) under a computed sha256. */
async function builtEntry(id: string, file: string, role: ModelEntry['role'], input: ModelEntry['input'], outputs: string[], version: string): Promise<ModelEntry> {
  return {
    id, version, role, file: `${id}.onnx`, sha256: await sha256File(file), bundledPath: path.relative(packageRoot(), file),
    derivedBy: 'models/ci.sh or bench/peer/random_regressor.py', url: null, input, outputs, batch: 'dynamic', normalisation: NORM_05, licence: 'benchmark only',
  };
}

export const fixturePath = (name: string) => path.join(cacheDir(), 'fixtures', name);
export const randomExportDir = (ctx: BenchContext) => path.join(ctx.workDir, 'diffiqa-r-random');

/** Writes the bench's extra manifest for whichever built models exist now. */
export async function writeBenchManifest(ctx: BenchContext): Promise<void> {
  const models: ModelEntry[] = [];
  const reg = fixturePath('tiny-regressor.onnx');
  if (existsSync(reg)) models.push(await builtEntry(FIXTURE_REGRESSOR, reg, 'regressor', REGRESSOR_INPUT, ['score'], 'fixture'));
  const den = fixturePath('tiny-denoiser.onnx');
  if (existsSync(den)) models.push(await builtEntry(FIXTURE_DENOISER, den, 'denoiser', { ...REGRESSOR_INPUT, name: 'x', timestepName: 't' }, ['x0'], 'fixture'));
  const rnd = path.join(randomExportDir(ctx), 'diffiqa-r.onnx');
  if (existsSync(rnd)) models.push(await builtEntry(RANDOM_IRESNET, rnd, 'regressor', REGRESSOR_INPUT, ['score'], 'random-weights'));
  const int8 = path.join(randomExportDir(ctx), 'diffiqa-r-int8.onnx');
  if (existsSync(int8)) models.push(await builtEntry(RANDOM_IRESNET_INT8, int8, 'regressor', REGRESSOR_INPUT, ['score'], 'random-weights-int8'));
  await writeFile(ctx.manifestPath, JSON.stringify({ models }, null, 2));
}

/** Why `id` cannot be used (not in a manifest, file missing or wrong checksum), or undefined when it can. */
export async function unusable(rt: ModelRuntime, id: string): Promise<string | undefined> {
  try {
    await rt.resolver.resolve(rt.entry(id));
    return undefined;
  } catch (err) {
    const e = toGateError(err);
    return `${e.code}: ${e.message.split('\n')[0].slice(0, 200)}`;
  }
}

/** The project's own inline models that resolve (the default first), else the test fixture (said in a note). */
export async function smallRegressors(ctx: BenchContext, rt: ModelRuntime): Promise<BenchModel[]> {
  const found: BenchModel[] = [];
  for (const [id, label] of OWN_REGRESSORS) {
    const why = await unusable(rt, id);
    if (!why) found.push({ id, label: `${id} (${label})` });
    else ctx.notes.push(`${id} does not resolve (${why})`);
  }
  if (found.length) return found;
  const note = `no own regressor resolves; the test fixture ${FIXTURE_REGRESSOR} (3 convs + linear, untrained) stands in`;
  ctx.notes.push(note);
  return [{ id: FIXTURE_REGRESSOR, label: `${FIXTURE_REGRESSOR} (fixture)`, note, peer: { model: 'tiny-regressor' } }];
}

/** iResNet-100 + Linear with random weights, exported by the project's exporter (minutes, once). */
export async function randomIResNet(ctx: BenchContext): Promise<BenchModel> {
  const cached = existsSync(path.join(randomExportDir(ctx), 'diffiqa-r.onnx'));
  ctx.log(cached ? 'the iResNet-100 DifFIQA(R) regressor (random weights) is exported already' : 'exporting the iResNet-100 DifFIQA(R) architecture from random weights (once; minutes)…');
  const out = await runPythonJson<{ checkpoint: string; onnx: string }>('random_regressor.py', ['--out', ctx.workDir, '--threads', String(ctx.intraOpThreads)], ctx.log, 1_800_000);
  await writeBenchManifest(ctx);
  const manifest = JSON.parse(await readFile(ctx.manifestPath, 'utf8')) as { models: ModelEntry[] };
  if (!manifest.models.some((m) => m.id === RANDOM_IRESNET)) throw new Error(`${out.onnx} was not written`);
  return {
    id: RANDOM_IRESNET, label: 'DifFIQA(R) architecture, iResNet-100 + Linear (random weights)',
    note: 'official architecture and size (65 M parameters), random weights with BatchNorm statistics calibrated on random images: timing only',
    peer: { model: 'diffiqa-r-random', checkpoint: out.checkpoint }, gmacPerImage: IRESNET100_GMAC,
  };
}

/** Faces the int8 calibration sees; the peer times the first ones, so calibration starts after them. */
const CALIBRATION = { from: 64, calibrate: 64, check: 32 };

/**
 * The INT8 variant of the random iResNet-100, made by the project's quantiser (models/export/quantize.py)
 * the way a user makes one from the official export. Its PyTorch twin is the float checkpoint: the peer
 * compares the authors' float path with what a user of this product would deploy.
 */
export async function randomIResNetInt8(ctx: BenchContext, big: BenchModel, faces: BenchFace[]): Promise<BenchModel> {
  const { from, calibrate, check } = CALIBRATION;
  if (faces.length < from + calibrate + check) throw new GateError('USAGE', `int8 calibration needs ${from + calibrate + check} bench faces, ${faces.length} loaded`);
  const dir = path.join(ctx.workDir, `calibration-${calibrate + check}`);
  await writeAlignedPngs(faces.slice(from, from + calibrate + check), dir);
  const cached = existsSync(path.join(randomExportDir(ctx), 'diffiqa-r-int8.onnx'));
  ctx.log(cached ? 'its int8 variant is made already' : 'quantising the iResNet-100 regressor to int8 (once; about a minute)…');
  const out = await runPythonJson<{ onnx: string; fidelity: { images: number; spearman: number; maxAbsDiffOverStd: number } }>('quantize_random.py',
    ['--dir', randomExportDir(ctx), '--images', dir, '--calibrate', String(calibrate), '--check', String(check), '--threads', String(ctx.intraOpThreads)], ctx.log, 900_000);
  await writeBenchManifest(ctx);
  const f = out.fidelity;
  return {
    id: RANDOM_IRESNET_INT8, label: 'the same, quantised to int8 (QDQ S8S8, per channel)',
    note: `int8 of ${RANDOM_IRESNET} (models/export/quantize.py, ${calibrate} calibration faces); float vs int8 on ${f.images} other faces: Spearman ${f.spearman}, max |Δ| ${f.maxAbsDiffOverStd}× the float scores' std (random weights: timing only)`,
    peer: big.peer, gmacPerImage: big.gmacPerImage,
  };
}

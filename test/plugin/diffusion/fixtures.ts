/**
 * Test-only access to the script-built fixtures in the cache (models/ci.sh builds them): the tiny
 * denoiser, the dynamic-batch MobileFaceNet and the DifFIQA parity cases. They are loaded through
 * ModelRuntime with an extra manifest whose sha256 values are computed here, because the files are
 * built, not downloaded; a temporary cache dir holds copies under models/ as the resolver expects.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sha256File } from '../../../src/plugin/assets/resolver.js';
import type { ModelEntry } from '../../../src/plugin/assets/manifest.js';
import { cacheDir } from '../../../src/plugin/core/paths.js';
import type { AlignedFace } from '../../../src/plugin/core/frame.js';
import { ModelRuntime, type RuntimeOptions } from '../../../src/plugin/scorers/runtime.js';
import type { InjectedNoise } from '../../../src/plugin/diffusion/noise.js';

export const DENOISER_ID = 'fixture-tiny-denoiser';
export const EMBEDDER_ID = 'fixture-mobilefacenet-dyn';

function need(file: string): string {
  if (!existsSync(file)) throw new Error(`fixture ${file} is missing: run models/ci.sh (it builds the cache fixtures)`);
  return file;
}

export const fixturesDir = (): string => path.join(cacheDir(), 'fixtures');
export const parityDir = (): string => path.join(fixturesDir(), 'diffiqa-parity');

function entry(id: string, role: ModelEntry['role'], file: string, sha256: string, input: ModelEntry['input'], outputs: string[], normalisation: ModelEntry['normalisation']): ModelEntry {
  return { id, version: 'fixture', role, file, sha256, input, outputs, batch: 'dynamic', normalisation, licence: 'test fixture', derivedBy: 'models/ci.sh' };
}

/** A runtime that knows the fixture models (plus the project manifest's), both loaded. */
export async function fixtureRuntime(opts: Partial<RuntimeOptions> = {}): Promise<ModelRuntime> {
  const den = need(path.join(fixturesDir(), 'tiny-denoiser.onnx'));
  const emb = need(path.join(cacheDir(), 'models', 'mobilefacenet-dyn.onnx'));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'diffusion-'));
  mkdirSync(path.join(tmp, 'models'));
  copyFileSync(den, path.join(tmp, 'models', 'tiny-denoiser.onnx'));
  copyFileSync(emb, path.join(tmp, 'models', 'mobilefacenet-dyn.onnx'));
  const manifest = {
    models: [
      entry(DENOISER_ID, 'denoiser', 'tiny-denoiser.onnx', await sha256File(den),
        { name: 'x', layout: 'NCHW', shape: [1, 3, 112, 112], colorOrder: 'RGB', timestepName: 't' }, ['x0'],
        { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }),
      entry(EMBEDDER_ID, 'embedder', 'mobilefacenet-dyn.onnx', await sha256File(emb),
        { name: 'input0', layout: 'NCHW', shape: [1, 3, 112, 112], colorOrder: 'RGB' }, ['output0'],
        { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }),
    ],
  };
  const manifestPath = path.join(tmp, 'manifest.json');
  writeFileSync(manifestPath, JSON.stringify(manifest));
  const rt = new ModelRuntime({ allowDownload: false, ...opts, manifestPaths: [manifestPath], cacheDir: tmp });
  await Promise.all([rt.load(DENOISER_ID), rt.load(EMBEDDER_ID)]);
  return rt;
}

export interface ParityCase {
  face: string;
  repeats: number;
  dir: string;
  noise: string[];
  intermediates: string[];
  score: number;
  std: number;
  perRepeat: number[];
  cosNoisy: number[];
  cosRecon: number[];
  cosFlip: number;
}

export function parityCases(): ParityCase[] {
  const expected = JSON.parse(readFileSync(need(path.join(parityDir(), 'expected.json')), 'utf8')) as { cases: ParityCase[] };
  return expected.cases;
}

export function readF32(...parts: string[]): Float32Array {
  const buf = readFileSync(need(path.join(parityDir(), ...parts)));
  // Little-endian on disk, as on every platform Node runs on here.
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export function parityFace(file: string): AlignedFace {
  const data = new Uint8Array(readFileSync(need(path.join(parityDir(), file))));
  return { size: 112, data, landmarkSource: 'message', landmarks: [], eyeDistance: 0 };
}

export function parityNoise(c: ParityCase): InjectedNoise {
  const [eps, ...z] = c.noise.map((n) => readF32(c.dir, n));
  return { eps, z };
}

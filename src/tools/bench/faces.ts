import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Config } from '../../plugin/config/load.js';
import { GateError } from '../../plugin/core/errors.js';
import type { AlignedFace, Landmarks5 } from '../../plugin/core/frame.js';
import { limitsFrom } from '../../plugin/pipeline/stages/prepare.js';
import { prepareFace, type PrepareDeps } from '../../plugin/face/prepare.js';
import type { ModelRuntime } from '../../plugin/scorers/runtime.js';

export interface BenchFace { file: string; jpeg: Buffer; landmarks: Landmarks5; aligned: AlignedFace }

/** The same face-preparation dependencies the gate's PrepareStage builds (detector through the pool). */
export function prepareDeps(rt: ModelRuntime, cfg: Config): PrepareDeps {
  const entry = rt.entry(cfg.get('models.detector'));
  return {
    limits: limitsFrom(cfg),
    infer: async (modelId, inputs) => {
      const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { type: 'float32' as const, data: t.data, dims: t.dims }]));
      const out = await rt.run(modelId, feeds);
      return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]));
    },
    detector: { modelId: entry.id, inputName: entry.input.name, norm: entry.normalisation, colorOrder: entry.input.colorOrder, scoreThreshold: cfg.get('face.detectorScore') },
  };
}

/** `count` LFW images spread over identities (first image of every k-th person): deterministic. */
async function pickLfw(lfw: string, count: number): Promise<string[]> {
  const people = (await readdir(lfw)).sort();
  const step = Math.max(1, Math.floor(people.length / (count * 1.25)));
  const files: string[] = [];
  for (let i = 0; files.length < count * 1.25 && i < people.length; i += step) {
    const own = (await readdir(path.join(lfw, people[i]))).filter((n) => n.endsWith('.jpg')).sort();
    if (own.length) files.push(path.join(people[i], own[0]));
  }
  return files;
}

/**
 * LFW faces with landmarks (found once by the product's detector and cached in the bench folder,
 * since detection is the slow part) and their aligned crops. The detector must be loaded in `rt`.
 */
export async function loadBenchFaces(rt: ModelRuntime, cfg: Config, sharedDir: string, workDir: string, count: number): Promise<BenchFace[]> {
  const lfw = path.join(sharedDir, 'data', 'lfw');
  if (!existsSync(lfw)) throw new GateError('ASSET_NOT_FOUND', `LFW not found at ${lfw}: the benchmarks read ../shared/data/lfw (set DIFFIQA_SHARED)`);
  const cacheFile = path.join(workDir, 'lfw-landmarks.json');
  const cache: Record<string, Landmarks5 | null> = existsSync(cacheFile) ? JSON.parse(await readFile(cacheFile, 'utf8')) : {};
  const deps = prepareDeps(rt, cfg);
  const faces: BenchFace[] = [];
  let changed = false;
  for (const file of await pickLfw(lfw, count)) {
    if (faces.length >= count) break;
    const jpeg = await readFile(path.join(lfw, file));
    if (cache[file] === undefined) {
      changed = true;
      try { cache[file] = (await prepareFace(jpeg, {}, deps)).landmarks; } catch { cache[file] = null; }
    }
    const landmarks = cache[file];
    if (!landmarks) continue;
    faces.push({ file, jpeg, landmarks, aligned: await prepareFace(jpeg, { landmarks }, deps) });
  }
  if (changed) {
    await writeFile(`${cacheFile}.tmp`, JSON.stringify(cache));
    await rename(`${cacheFile}.tmp`, cacheFile);
  }
  if (faces.length < count) throw new GateError('ASSET_NOT_FOUND', `only ${faces.length} of ${count} LFW images gave a face`);
  return faces;
}

/** Aligned crops as lossless PNGs (so both sides decode identical pixels), named in face order. */
export async function writeAlignedPngs(faces: BenchFace[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [i, f] of faces.entries()) {
    const file = path.join(dir, `${String(i).padStart(5, '0')}.png`);
    if (!existsSync(file)) {
      await sharp(Buffer.from(f.aligned.data), { raw: { width: f.aligned.size, height: f.aligned.size, channels: 3 } }).png().toFile(file);
    }
    files.push(file);
  }
  return files;
}

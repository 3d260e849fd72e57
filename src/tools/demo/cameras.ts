import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Config } from '../../plugin/config/load.js';
import { createRng, type Rng } from '../../plugin/core/random.js';
import { cacheDir } from '../../plugin/core/paths.js';
import { decodeImage } from '../../plugin/face/decode.js';
import { detectFace } from '../../plugin/face/detect.js';
import { limitsFrom } from '../../plugin/pipeline/stages/prepare.js';
import type { ModelRuntime } from '../../plugin/scorers/runtime.js';
import type { Landmarks5 } from '../../plugin/core/frame.js';

export type Degradation = 'none' | 'blur' | 'downscale' | 'jpeg' | 'noise' | 'dark';

export interface DemoCrop {
  source: string;
  degradation: Degradation;
  jpeg: Buffer;
  landmarks: Landmarks5;
}

const DEGRADATIONS: [Degradation, number][] = [['none', 0.5], ['blur', 0.1], ['downscale', 0.1], ['jpeg', 0.1], ['noise', 0.1], ['dark', 0.1]];

function pick(rng: Rng): Degradation {
  let u = rng.uniform();
  for (const [d, p] of DEGRADATIONS) { if ((u -= p) < 0) return d; }
  return 'none';
}

/** Applies one camera-like degradation; returns the JPEG and how landmarks scale. */
async function degrade(crop: sharp.Sharp, w: number, h: number, d: Degradation, rng: Rng): Promise<{ jpeg: Buffer; scale: number }> {
  switch (d) {
    case 'blur': return { jpeg: await crop.blur(2 + rng.uniform() * 3).jpeg({ quality: 90 }).toBuffer(), scale: 1 };
    case 'downscale': {
      // A far-away face: the camera's crop really is small, landmarks shrink with it.
      const scale = 0.2 + rng.uniform() * 0.15;
      return { jpeg: await crop.resize(Math.max(16, Math.round(w * scale)), Math.max(16, Math.round(h * scale))).jpeg({ quality: 85 }).toBuffer(), scale };
    }
    case 'jpeg': return { jpeg: await crop.jpeg({ quality: 3 + Math.floor(rng.uniform() * 5) }).toBuffer(), scale: 1 };
    case 'dark': return { jpeg: await crop.linear(0.15 + rng.uniform() * 0.15, 0).jpeg({ quality: 90 }).toBuffer(), scale: 1 };
    case 'noise': {
      const { data, info } = await crop.raw().toBuffer({ resolveWithObject: true });
      const sigma = 25 + rng.uniform() * 25;
      for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, data[i] + rng.normal() * sigma));
      return { jpeg: await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: 90 }).toBuffer(), scale: 1 };
    }
    default: return { jpeg: await crop.jpeg({ quality: 90 }).toBuffer(), scale: 1 };
  }
}

/**
 * What a camera pipeline's face detector publishes: a loose crop around each face with its
 * 5 landmarks in crop pixels, some of them degraded (blur, distance, compression, noise, dark).
 * Built from whole in-the-wild photos with our own detector; cached, since detection is the slow part.
 */
export async function buildDemoCrops(rt: ModelRuntime, cfg: Config, dataDir: string, count: number, seed = 'demo', onCrop: () => void = () => {}): Promise<DemoCrop[]> {
  const cacheFile = path.join(cacheDir(), 'demo', `crops-${count}-${seed}.json`);
  if (existsSync(cacheFile)) {
    const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as (Omit<DemoCrop, 'jpeg'> & { jpeg: string })[];
    return cached.map((c) => ({ ...c, jpeg: Buffer.from(c.jpeg, 'base64') }));
  }
  const detector = rt.entry(cfg.get('models.detector'));
  const infer = async (modelId: string, inputs: Record<string, { data: Float32Array; dims: number[] }>) => {
    const out = await rt.run(modelId, Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { type: 'float32' as const, data: t.data, dims: t.dims }])));
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]));
  };
  const rng = createRng(seed);
  const files = (await import('node:fs/promises')).readdir(dataDir).then((names) => names.filter((n) => n.endsWith('.jpg')).sort());
  const all = await files;
  const crops: DemoCrop[] = [];
  for (let i = 0; crops.length < count && i < all.length * 4; i++) {
    const file = all[Math.floor(rng.uniform() * all.length)];
    const bytes = await readFile(path.join(dataDir, file));
    try {
      const img = await decodeImage(bytes, limitsFrom(cfg));
      const face = await detectFace(img, infer, { modelId: detector.id, inputName: detector.input.name, norm: detector.normalisation, colorOrder: detector.input.colorOrder, scoreThreshold: 0.7 });
      const [x1, y1, x2, y2] = face.box;
      const side = Math.max(x2 - x1, y2 - y1) * 1.8;
      const left = Math.max(0, Math.round((x1 + x2) / 2 - side / 2)), top = Math.max(0, Math.round((y1 + y2) / 2 - side / 2));
      const width = Math.min(img.width - left, Math.round(side)), height = Math.min(img.height - top, Math.round(side));
      if (width < 32 || height < 32) continue;
      const crop = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).extract({ left, top, width, height });
      const degradation = pick(rng);
      const { jpeg, scale } = await degrade(crop, width, height, degradation, rng);
      crops.push({ source: file, degradation, jpeg, landmarks: face.landmarks.map(([x, y]) => [(x - left) * scale, (y - top) * scale]) });
      onCrop();
    } catch {
      // Photos without a clear face are simply not used for the stream.
    }
  }
  await mkdir(path.dirname(cacheFile), { recursive: true });
  await writeFile(cacheFile, JSON.stringify(crops.map((c) => ({ ...c, jpeg: c.jpeg.toString('base64') }))));
  return crops;
}


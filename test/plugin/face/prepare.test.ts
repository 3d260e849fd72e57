import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import type { Landmarks5 } from '../../../src/plugin/core/frame.js';
import { alignFace } from '../../../src/plugin/face/align.js';
import { decodeImage } from '../../../src/plugin/face/decode.js';
import { detectFace, type InferFn } from '../../../src/plugin/face/detect.js';
import { prepareFace, type PrepareDeps } from '../../../src/plugin/face/prepare.js';
import { Slots } from '../../../src/plugin/core/slots.js';
import { toTensor, type ColorOrder, type Normalisation } from '../../../src/plugin/face/tensor.js';
import { createDirectInfer } from '../../helpers/direct-infer.js';
import { LIMITS, lfwBytes, sharedPath } from './fixtures.js';

interface ManifestEntry { id: string; input: { colorOrder: ColorOrder }; normalisation: Normalisation }
const manifestPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models/manifest.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { models: ManifestEntry[] };
const entry = (id: string) => manifest.models.find((m) => m.id === id) ?? (() => { throw new Error(`${id} not in manifest`); })();

const direct = createDirectInfer();
afterAll(() => direct.close());

const detectorEntry = entry('retinaface-mnet025');
const deps = (infer: InferFn = direct.infer): PrepareDeps => ({
  infer,
  limits: LIMITS,
  detector: { modelId: detectorEntry.id, norm: detectorEntry.normalisation, colorOrder: detectorEntry.input.colorOrder },
});
const noInfer: InferFn = () => Promise.reject(new Error('the detector must not run'));

describe('prepareFace', () => {
  it('prepareFace should align with the message landmarks without running the detector', async () => {
    const bytes = lfwBytes('Aaron_Eckhart', 1);
    const detected = await detectFace(await decodeImage(bytes, LIMITS), direct.infer, deps().detector);
    const face = await prepareFace(bytes, { landmarks: detected.landmarks }, deps(noInfer));
    expect(face.landmarkSource).toBe('message');
    expect(face.detectorScore).toBeUndefined();
    expect(face.size).toBe(112);
    expect(face.eyeDistance).toBeCloseTo(Math.hypot(detected.landmarks[1][0] - detected.landmarks[0][0], detected.landmarks[1][1] - detected.landmarks[0][1]), 6);
  });

  it('prepareFace should give the same bytes from its windowed decode as aligning the whole decoded crop', async () => {
    for (const [name, n] of [['Aaron_Eckhart', 1], ['Abdullah_Gul', 3], ['Adam_Sandler', 2]] as const) {
      const bytes = lfwBytes(name, n);
      const whole = await decodeImage(bytes, LIMITS);
      const { landmarks } = await detectFace(whole, direct.infer, deps().detector);
      // As detected, then pushed towards a corner so the face reaches out of the crop.
      const dx = 2 - Math.min(...landmarks.map((p) => p[0])), dy = 2 - Math.min(...landmarks.map((p) => p[1]));
      const cornered = landmarks.map(([x, y]) => [x + dx, y + dy]) as unknown as Landmarks5;
      for (const lm of [landmarks, cornered]) {
        const face = await prepareFace(bytes, { landmarks: lm }, deps(noInfer));
        expect(Buffer.from(face.data).equals(Buffer.from(alignFace(whole, lm).data)), `${name} ${n}`).toBe(true);
      }
    }
  });

  it('prepareFace should detect the face when no landmarks come with the image', async () => {
    const bytes = lfwBytes('Aaron_Eckhart', 1);
    const viaDetector = await prepareFace(bytes, { landmarks: null }, deps());
    expect(viaDetector.landmarkSource).toBe('detector');
    expect(viaDetector.detectorScore).toBeGreaterThan(0.9);
    expect(viaDetector.eyeDistance).toBeGreaterThan(30);
    const viaMessage = await prepareFace(bytes, { landmarks: viaDetector.landmarks }, deps(noInfer));
    expect(Buffer.from(viaMessage.data).equals(viaDetector.data)).toBe(true);
  });

  it('prepareFace should hold no more detector inputs at once than its detection slots, however many frames are in flight', async () => {
    const bytes = lfwBytes('Aaron_Eckhart', 1);
    let live = 0, peak = 0;
    // Detector runs at once; each holds its 640×640 input from the letterbox to the end of its run.
    const counting: InferFn = async (id, inputs) => {
      live++;
      peak = Math.max(peak, live);
      try { return await direct.infer(id, inputs); } finally { live--; }
    };
    const unbounded = await Promise.all(Array.from({ length: 8 }, () => prepareFace(bytes, {}, deps(counting))));
    expect(peak).toBeGreaterThan(2);
    peak = 0;
    const slots = new Slots(2);
    const bounded = await Promise.all(Array.from({ length: 8 }, () => prepareFace(bytes, {}, { ...deps(counting), detectSlots: slots })));
    expect(peak).toBeLessThanOrEqual(2);
    expect(bounded.map((f) => f.detectorScore)).toEqual(unbounded.map((f) => f.detectorScore));
  });

  it('prepareFace should fail with the input codes: no face, bad landmarks (no fallback), bad bytes', async () => {
    const grey = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#808080' } }).png().toBuffer();
    await expect(prepareFace(grey, {}, deps())).rejects.toMatchObject({ code: 'INPUT_NO_FACE', canRetry: false });
    const bad: Landmarks5 = [[10, 10], [10, 10], [10, 10], [10, 10], [10, 10]];
    await expect(prepareFace(lfwBytes('Aaron_Eckhart', 1), { landmarks: bad }, deps(noInfer))).rejects.toMatchObject({ code: 'INPUT_BAD_LANDMARKS' });
    await expect(prepareFace(Buffer.from('GIF89a'), {}, deps(noInfer))).rejects.toMatchObject({ code: 'INPUT_IMAGE_FORMAT' });
  });

  it('prepareFace should call a detected face reaching far out of the crop INPUT_NO_FACE, not bad landmarks', async () => {
    // One confident detection (a 64 px anchor at model (168, 168)) whose landmarks lie 3.5–4 anchor widths to its left.
    const offLeft: InferFn = async () => {
      const n = 16800, i = 12800 + (10 * 40 + 10) * 2;
      const scores = new Float32Array(n * 2), lm = new Float32Array(n * 10);
      scores[i * 2 + 1] = 0.95;
      lm.set([-40, 0, -37, 0, -38.5, 1, -40, 2, -37, 2], i * 10);
      return { output0: { data: new Float32Array(n * 4), dims: [1, n, 4] }, 572: { data: scores, dims: [1, n, 2] }, 571: { data: lm, dims: [1, n, 10] } };
    };
    await expect(prepareFace(lfwBytes('Aaron_Eckhart', 1), {}, deps(offLeft))).rejects.toMatchObject({ code: 'INPUT_NO_FACE' });
  });
});

interface Pair { a: [string, number]; b: [string, number]; same: boolean }

/** The first 100 genuine and 100 impostor pairs of fold 1 of the LFW protocol. */
function lfwPairs(): Pair[] {
  const lines = readFileSync(sharedPath('data', 'lfw-pairs.txt'), 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const genuine = lines.slice(0, 100).map(([n, i, j]): Pair => ({ a: [n, +i], b: [n, +j], same: true }));
  const impostor = lines.slice(300, 400).map(([n1, i, n2, j]): Pair => ({ a: [n1, +i], b: [n2, +j], same: false }));
  return [...genuine, ...impostor];
}

const cosine = (a: Float32Array, b: Float32Array) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
};

/** Mean ms per image of each stage prepareFace runs, as a printable summary. */
async function timeStages(images: Buffer[]): Promise<string> {
  const ms = { decode: 0, detect: 0, align: 0 };
  for (const bytes of images) {
    let t = performance.now();
    const img = await decodeImage(bytes, LIMITS);
    ms.decode += performance.now() - t; t = performance.now();
    const d = await detectFace(img, direct.infer, deps().detector);
    ms.detect += performance.now() - t; t = performance.now();
    alignFace(img, d.landmarks);
    ms.align += performance.now() - t;
  }
  return Object.entries(ms).map(([k, v]) => `${k} ${(v / images.length).toFixed(1)}`).join(', ');
}

describe('prepareFace on LFW pairs', () => {
  it('prepareFace should give faces that MobileFaceNet tells apart (genuine cosine > impostor + 0.3)', async () => {
    const pairs = lfwPairs();
    const keys = [...new Set(pairs.flatMap((p) => [p.a.join('#'), p.b.join('#')]))];
    const faces = new Map<string, Uint8Array>();
    let prepMs = 0;
    for (const key of keys) {
      const [name, n] = key.split('#');
      const bytes = lfwBytes(name, +n);
      const t0 = performance.now();
      faces.set(key, (await prepareFace(bytes, {}, deps())).data);
      prepMs += performance.now() - t0;
    }
    const breakdown = await timeStages(keys.slice(0, 20).map((k) => lfwBytes(k.split('#')[0], +k.split('#')[1])));

    const embedder = entry('mobilefacenet');
    const embeddings = new Map<string, Float32Array>();
    const BATCH = 8;
    for (let i = 0; i < keys.length; i += BATCH) {
      const chunk = keys.slice(i, i + BATCH);
      const input = toTensor(chunk.map((k) => faces.get(k)!), embedder.normalisation, embedder.input.colorOrder);
      const out = (await direct.infer(embedder.id, { input0: { data: input, dims: [chunk.length, 3, 112, 112] } })).output0;
      const dim = out.data.length / chunk.length;
      chunk.forEach((k, j) => embeddings.set(k, out.data.slice(j * dim, (j + 1) * dim)));
    }
    // The helper loops over the fixed batch of 1: item 3 of a batch must equal a run on its own.
    const single = toTensor([faces.get(keys[3])!], embedder.normalisation, embedder.input.colorOrder);
    const alone = (await direct.infer(embedder.id, { input0: { data: single, dims: [1, 3, 112, 112] } })).output0.data;
    expect(cosine(alone, embeddings.get(keys[3])!)).toBeCloseTo(1, 5);

    const sims = pairs.map((p) => ({ same: p.same, s: cosine(embeddings.get(p.a.join('#'))!, embeddings.get(p.b.join('#'))!) }));
    const mean = (same: boolean) => sims.filter((x) => x.same === same).reduce((a, x) => a + x.s, 0) / 100;
    const genuine = mean(true), impostor = mean(false);
    const accuracy = Math.max(...sims.map(({ s: t }) => sims.filter((x) => (x.s >= t) === x.same).length / sims.length));
    console.log(`LFW fold-1 subset (100+100 pairs, ${keys.length} images): genuine cosine ${genuine.toFixed(3)}, impostor ${impostor.toFixed(3)}, ` +
      `best-threshold accuracy ${(accuracy * 100).toFixed(1)} %; prepareFace (decode+detect+align) ${(prepMs / keys.length).toFixed(1)} ms/image ` +
      `(${breakdown}, ONNX on one thread)`);
    expect(genuine).toBeGreaterThan(impostor + 0.3);
  });
});

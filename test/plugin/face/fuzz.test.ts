/**
 * Property tests of image preparation (fast-check): random and mutated image bytes, random
 * landmarks and random detector outputs through prepareFace. Whatever comes in, it either returns
 * a 112×112 face or rejects with a GateError whose code is INPUT_*, and never takes 2 s or more.
 * Limits are the gate's defaults (face.maxBytes 4 MB, face.maxPixels 16 Mpx, face.minSide 16).
 */
import fc from 'fast-check';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GateError } from '../../../src/plugin/core/errors.js';
import type { Landmarks5 } from '../../../src/plugin/core/frame.js';
import { decodeImage, type DecodeLimits } from '../../../src/plugin/face/decode.js';
import { detectFace, type InferFn, type TensorData } from '../../../src/plugin/face/detect.js';
import { prepareFace, type PrepareDeps } from '../../../src/plugin/face/prepare.js';
import { RETINAFACE_OUTPUTS } from '../../../src/plugin/face/retinaface.js';
import { createDirectInfer, type DirectInfer } from '../../helpers/direct-infer.js';
import { lfwBytes } from './fixtures.js';

const LIMITS: DecodeLimits = { maxBytes: 4_000_000, maxPixels: 16_000_000, minSide: 16 };
// A hang detector, not a speed test (speed lives in benchmarks): generous for a loaded CI host.
const MAX_MS = 30_000;
const PRIORS = 16_800;

interface Sources { jpeg: Buffer; png: Buffer; webp: Buffer; small: Buffer }
let src: Sources;
let direct: DirectInfer;
/** The face's landmarks as the real detector finds them, sent along like a camera would. */
let LANDMARKS: Landmarks5;

beforeAll(async () => {
  const jpeg = lfwBytes('Aaron_Eckhart', 1);
  src = {
    jpeg,
    png: await sharp(jpeg).png().toBuffer(),
    webp: await sharp(jpeg).webp().toBuffer(),
    small: await sharp(jpeg).resize(48, 48).jpeg({ quality: 60 }).toBuffer(),
  };
  direct = createDirectInfer();
  LANDMARKS = (await detectFace(await decodeImage(jpeg, LIMITS), direct.infer, { modelId: 'retinaface-mnet025' })).landmarks;
});

afterAll(() => direct?.close());

/** A detector that must not be asked: landmarks came with the image. */
const noInfer: InferFn = () => Promise.reject(new Error('the detector must not run'));

const deps = (infer: InferFn): PrepareDeps => ({ infer, limits: LIMITS, detector: { modelId: 'retinaface-mnet025', scoreThreshold: 0.5 } });

/** The property: a face, or an INPUT_* GateError; under MAX_MS either way. Returns what happened. */
async function prepareChecked(bytes: Uint8Array, landmarks: Landmarks5 | null, infer: InferFn): Promise<string> {
  const t0 = performance.now();
  let outcome: string;
  try {
    const face = await prepareFace(bytes, { landmarks }, deps(infer));
    expect(face.size).toBe(112);
    expect(face.data).toHaveLength(112 * 112 * 3);
    outcome = 'face';
  } catch (err) {
    if (!(err instanceof GateError) || !err.code.startsWith('INPUT_')) {
      throw new Error(`prepareFace threw ${err instanceof GateError ? `GateError ${err.code}` : String(err)} for ${bytes.length} bytes starting ${Buffer.from(bytes.subarray(0, 16)).toString('hex')}`, { cause: err });
    }
    outcome = err.code;
  }
  const ms = performance.now() - t0;
  if (ms >= MAX_MS) throw new Error(`prepareFace took ${ms.toFixed(0)} ms (${outcome}) for ${bytes.length} bytes starting ${Buffer.from(bytes.subarray(0, 16)).toString('hex')}`);
  return outcome;
}

// ---- mutations of real image bytes ---------------------------------------------------------------

type Mutation =
  | { op: 'flip'; at: number[]; bit: number }
  | { op: 'truncate'; keep: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'overwrite'; at: number; bytes: Uint8Array }
  | { op: 'dims'; width: number; height: number };

const dimension = fc.oneof(fc.integer({ min: 3000, max: 4100 }), fc.nat(70_000), fc.nat(0x7fffffff));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 24 }), bit: fc.nat(7) }),
  fc.record({ op: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ op: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  // Header dimensions replaced: often near the 16 Mpx limit (the slowest images still allowed),
  // else anything up to the 16-bit (JPEG) or 31-bit (PNG) maximum.
  fc.record({ op: fc.constant('dims' as const), width: dimension, height: dimension }),
);

/** Where the first JPEG start-of-frame's height field, or PNG IHDR's width, is; undefined when there is none. */
function dimsOffset(b: Buffer): { at: number; kind: 'jpeg' | 'png' } | undefined {
  if (b.length >= 24 && b[0] === 0x89 && b.toString('latin1', 12, 16) === 'IHDR') return { at: 16, kind: 'png' };
  for (let i = 2; i + 9 < b.length;) {
    if (b[i] !== 0xff) return undefined;
    const m = b[i + 1];
    if (m >= 0xc0 && m <= 0xc3) return { at: i + 5, kind: 'jpeg' };
    i += 2 + b.readUInt16BE(i + 2);
  }
  return undefined;
}

function mutate(original: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(original);
  for (const m of mutations) {
    if (b.length === 0) break;
    switch (m.op) {
      case 'flip': for (const at of m.at) b[at % b.length] ^= 1 << m.bit; break;
      case 'truncate': b = b.subarray(0, m.keep % (b.length + 1)); break;
      case 'insert': { const at = m.at % (b.length + 1); b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]); break; }
      case 'overwrite': { const at = m.at % b.length; Buffer.from(m.bytes).copy(b, at, 0, Math.min(m.bytes.length, b.length - at)); break; }
      case 'dims': {
        const d = dimsOffset(b);
        if (d?.kind === 'jpeg') { b.writeUInt16BE(m.height & 0xffff, d.at); b.writeUInt16BE(m.width & 0xffff, d.at + 2); }
        if (d?.kind === 'png') { b.writeUInt32BE(m.width, d.at); b.writeUInt32BE(m.height, d.at + 4); }
        break;
      }
    }
  }
  return b;
}

const sourceName = fc.constantFrom<keyof Sources>('jpeg', 'png', 'webp', 'small');

// ---- random detector outputs ---------------------------------------------------------------------

interface FakeDetection { prior: number; score: number; values: number[] }

/** RetinaFace-shaped outputs: zero everywhere except the chosen priors, whose values may be anything. */
function stubDetector(dets: FakeDetection[]): InferFn {
  return async () => {
    const boxes = new Float32Array(PRIORS * 4), scores = new Float32Array(PRIORS * 2), lms = new Float32Array(PRIORS * 10);
    for (let p = 0; p < PRIORS; p++) scores[p * 2] = 1;
    for (const d of dets) {
      scores[d.prior * 2] = 1 - d.score;
      scores[d.prior * 2 + 1] = d.score;
      d.values.slice(0, 4).forEach((v, k) => { boxes[d.prior * 4 + k] = v; });
      d.values.slice(4).forEach((v, k) => { lms[d.prior * 10 + k] = v; });
    }
    const out = (data: Float32Array, width: number): TensorData => ({ data, dims: [1, PRIORS, width] });
    return { [RETINAFACE_OUTPUTS.boxes]: out(boxes, 4), [RETINAFACE_OUTPUTS.scores]: out(scores, 2), [RETINAFACE_OUTPUTS.landmarks]: out(lms, 10) };
  };
}

const fakeDetection: fc.Arbitrary<FakeDetection> = fc.record({
  prior: fc.nat(PRIORS - 1),
  score: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(Number.NaN, 1, 0.5)),
  // Any float32 value, NaN and ±Infinity included.
  values: fc.array(fc.float(), { minLength: 14, maxLength: 14 }),
});

const anyLandmarks = fc.array(fc.tuple(fc.double(), fc.double()), { minLength: 0, maxLength: 7 });

describe('prepareFace (fuzz)', () => {
  it('prepareFace should give a face or an INPUT_* error for random bytes', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.boolean(), async (bytes, withLandmarks) => {
      await prepareChecked(bytes, withLandmarks ? LANDMARKS : null, stubDetector([]));
    }), { numRuns: 200 });
  });

  it('prepareFace should give a face or an INPUT_* error for mutated JPEG, PNG and WebP bytes, without hanging', async () => {
    const seen = new Map<string, number>();
    await fc.assert(fc.asyncProperty(sourceName, fc.array(mutation, { minLength: 1, maxLength: 3 }), async (name, mutations) => {
      const outcome = await prepareChecked(mutate(src[name], mutations), name === 'small' ? null : LANDMARKS, stubDetector([]));
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
    }), { numRuns: 150 });
    console.log(`fuzz: mutated images → ${JSON.stringify(Object.fromEntries(seen))}`);
    // The mutations reach past the format check: some still decode, some fail deeper in.
    expect(seen.get('face')).toBeGreaterThan(0);
    expect([...seen.keys()].filter((k) => k !== 'face').length).toBeGreaterThan(2);
  });

  it('prepareFace should give a face or INPUT_BAD_LANDMARKS for any landmarks on a valid image', async () => {
    await fc.assert(fc.asyncProperty(anyLandmarks, async (points) => {
      const outcome = await prepareChecked(src.jpeg, points as unknown as Landmarks5, noInfer);
      expect(['face', 'INPUT_BAD_LANDMARKS']).toContain(outcome);
    }), { numRuns: 100 });
  });

  it('prepareFace should give a face or INPUT_NO_FACE for any detector output when the message has no landmarks', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fakeDetection, { maxLength: 6 }), sourceName, async (dets, name) => {
      const outcome = await prepareChecked(src[name], null, stubDetector(dets));
      expect(['face', 'INPUT_NO_FACE']).toContain(outcome);
    }), { numRuns: 40 });
  });

  it('prepareFace should give a face or an INPUT_* error for mutated images through the real detector', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom<keyof Sources>('jpeg', 'png', 'webp'), fc.array(mutation, { minLength: 1, maxLength: 2 }), async (name, mutations) => {
      await prepareChecked(mutate(src[name], mutations), null, direct.infer);
    }), { numRuns: 10 });
  });
});

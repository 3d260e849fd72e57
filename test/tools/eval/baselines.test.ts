import { describe, expect, it } from 'vitest';
import { GateError } from '../../../src/plugin/core/errors.js';
import { createRng } from '../../../src/plugin/core/random.js';
import {
  brightnessContrast, embeddingNorm, faceSize, random, scoreBaseline, sharpness, type BaselineName, type FaceImage,
} from '../../../src/tools/eval/baselines.js';

const SIZE = 112;

/** Grey image from a function of (x, y). */
function image(grey: (x: number, y: number) => number): FaceImage {
  const data = new Uint8Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) data.fill(Math.max(0, Math.min(255, Math.round(grey(x, y)))), (y * SIZE + x) * 3, (y * SIZE + x) * 3 + 3);
  }
  return { size: SIZE, data };
}

/** Seeded texture around mid-grey, standing in for skin and hair detail. */
function texture(seed: string): FaceImage {
  const rng = createRng(seed);
  const noise = Float64Array.from({ length: SIZE * SIZE }, () => rng.normal());
  return image((x, y) => 128 + 40 * noise[y * SIZE + x] + 20 * Math.sin(x / 9) * Math.cos(y / 7));
}

/** (2r+1)² box blur, edges clamped. */
function boxBlur(face: FaceImage, r: number): FaceImage {
  const out = new Uint8Array(face.data.length);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = -r; dy <= r; dy++) {
          for (let dx = -r; dx <= r; dx++) {
            const yy = Math.min(SIZE - 1, Math.max(0, y + dy));
            const xx = Math.min(SIZE - 1, Math.max(0, x + dx));
            sum += face.data[(yy * SIZE + xx) * 3 + c];
          }
        }
        out[(y * SIZE + x) * 3 + c] = Math.round(sum / (2 * r + 1) ** 2);
      }
    }
  }
  return { size: SIZE, data: out };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof GateError ? err.code : 'not a GateError';
  }
  return undefined;
}

describe('sharpness', () => {
  it('sharpness should match the Laplacian variance of a stripe pattern', () => {
    // Columns alternate 0/255: L = 2·(255 − v) + 2·v − 4·v = ±510, half each → variance 510².
    expect(sharpness(image((x) => (x % 2 ? 255 : 0)))).toBeCloseTo(510 ** 2, 3);
    expect(sharpness(image(() => 100))).toBeCloseTo(0, 9);
  });

  it('sharpness should score a blurred face lower than the sharp one', () => {
    const sharp = texture('sharp');
    const mild = sharpness(boxBlur(sharp, 1));
    expect(mild).toBeLessThan(sharpness(sharp));
    expect(sharpness(boxBlur(sharp, 2))).toBeLessThan(mild);
  });

  it('sharpness should ignore black alignment padding outside the face box', () => {
    const face = texture('padded');
    // Black where alignment ran off the source picture: left 10 columns, top 12 rows.
    const padded = { size: SIZE, data: Uint8Array.from(face.data) };
    for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) if (x < 10 || y < 12) padded.data.fill(0, (y * SIZE + x) * 3, (y * SIZE + x) * 3 + 3);
    expect(sharpness(padded)).toBe(sharpness(face));
    expect(brightnessContrast(padded)).toBe(brightnessContrast(face));
  });

  it('sharpness should refuse a buffer of the wrong size', () => {
    expect(code(() => sharpness({ size: SIZE, data: new Uint8Array(10) }))).toBe('INPUT_IMAGE_FORMAT');
  });

  it('sharpness should work at other crop sizes', () => {
    const rng = createRng('small');
    const data = Uint8Array.from({ length: 56 * 56 * 3 }, () => rng.int(256));
    expect(sharpness({ size: 56, data })).toBeGreaterThan(0);
  });
});

describe('brightnessContrast', () => {
  it('brightnessContrast should match the documented formula on two-level images', () => {
    // Rows 64/192: m = 128/255, s = 64/255 ≥ 0.15, nothing clipped → 1 − 2·(128/255 − 0.5) = 254/255.
    expect(brightnessContrast(image((_x, y) => (y % 2 ? 192 : 64)))).toBeCloseTo(254 / 255, 9);
    // Rows 16/48: exposure = 1 − 2·|32/255 − 0.5| = 64/255, contrast = (16/255)/0.15.
    expect(brightnessContrast(image((_x, y) => (y % 2 ? 48 : 16)))).toBeCloseTo((64 / 255) * (16 / 255 / 0.15), 9);
  });

  it('brightnessContrast should score a dark face lower than a well-exposed one', () => {
    const good = texture('exposure');
    const dark = { size: SIZE, data: good.data.map((v) => Math.round(v * 0.25)) };
    expect(brightnessContrast(good)).toBeGreaterThan(0.9);
    expect(brightnessContrast(dark)).toBeLessThan(brightnessContrast(good) / 2);
  });

  it('brightnessContrast should penalise clipping and flat images', () => {
    // Mean and std look fine (0/255 halves), but every pixel is clipped.
    expect(brightnessContrast(image((x) => (x % 2 ? 255 : 0)))).toBe(0);
    // Mid-grey with almost no contrast.
    expect(brightnessContrast(image((x) => 128 + (x % 2)))).toBeLessThan(0.05);
    const good = texture('exposure');
    const washedOut = { size: SIZE, data: good.data.map((v) => Math.min(255, v + 110)) };
    expect(brightnessContrast(washedOut)).toBeLessThan(brightnessContrast(good) / 2);
  });
});

describe('faceSize', () => {
  it('faceSize should return the eye distance and refuse invalid ones', () => {
    expect(faceSize(12.5)).toBe(12.5);
    expect(faceSize(40)).toBeGreaterThan(faceSize(12.5));
    expect(code(() => faceSize(NaN))).toBe('INPUT_BAD_LANDMARKS');
    expect(code(() => faceSize(-1))).toBe('INPUT_BAD_LANDMARKS');
  });
});

describe('embeddingNorm', () => {
  it('embeddingNorm should return the L2 norm', () => {
    expect(embeddingNorm([3, 4])).toBe(5);
    expect(embeddingNorm(new Float32Array([1, 2, 2]))).toBe(3);
    expect(code(() => embeddingNorm([]))).toBe('MODEL_OUTPUT');
    expect(code(() => embeddingNorm([1, NaN]))).toBe('MODEL_OUTPUT');
  });
});

describe('random', () => {
  it('random should be reproducible per frame id and spread over [0, 1)', () => {
    expect(random('frame-1')).toBe(random('frame-1'));
    const values = Array.from({ length: 2000 }, (_, i) => random(`frame-${i}`));
    expect(new Set(values).size).toBe(values.length);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.03);
  });
});

describe('scoreBaseline', () => {
  it('scoreBaseline should dispatch by name and say what is missing', () => {
    const face = texture('dispatch');
    const ctx = { frameId: 'f', face, eyeDistance: 30, embedding: [3, 4] };
    expect(scoreBaseline('sharpness', ctx)).toBe(sharpness(face));
    expect(scoreBaseline('brightnessContrast', ctx)).toBe(brightnessContrast(face));
    expect(scoreBaseline('faceSize', ctx)).toBe(30);
    expect(scoreBaseline('embeddingNorm', ctx)).toBe(5);
    expect(scoreBaseline('random', ctx)).toBe(random('f'));
    expect(code(() => scoreBaseline('sharpness', { frameId: 'f' }))).toBe('USAGE');
    expect(code(() => scoreBaseline('magface' as BaselineName, ctx))).toBe('USAGE');
  });
});

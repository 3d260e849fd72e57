import { GateError } from '../../plugin/core/errors.js';
import { createRng } from '../../plugin/core/random.js';

/**
 * Cheap quality baselines, the yardstick a learned quality model has to beat in the EDC.
 * All return a number where higher means better quality.
 */

/** The part of AlignedFace the image baselines need: size × size RGB, HWC uint8. */
export interface FaceImage {
  size: number;
  data: Uint8Array;
}

/**
 * Image statistics come from a central box, not the whole crop: alignment fills whatever lies
 * outside the source picture with black, and those borders would read as dark pixels and as
 * strong edges. At 112 px the box spans x 16..95, y 24..103, around the eye-mouth region of the
 * ArcFace template (eyes at y ≈ 52, mouth at y ≈ 92).
 */
const FACE_BOX_112 = { x0: 16, x1: 96, y0: 24, y1: 104 };

function checkFace(face: FaceImage): void {
  if (!Number.isInteger(face.size) || face.size < 16 || face.data.length !== face.size * face.size * 3) {
    throw new GateError('INPUT_IMAGE_FORMAT', `aligned face must be size×size×3 bytes with size >= 16, got size ${face.size} and ${face.data.length} bytes`);
  }
}

/** BT.601 luma of the face box, row-major. */
function greyBox(face: FaceImage): { grey: Float64Array; width: number; height: number } {
  checkFace(face);
  const s = face.size / 112;
  const x0 = Math.round(FACE_BOX_112.x0 * s);
  const x1 = Math.round(FACE_BOX_112.x1 * s);
  const y0 = Math.round(FACE_BOX_112.y0 * s);
  const y1 = Math.round(FACE_BOX_112.y1 * s);
  const width = x1 - x0;
  const height = y1 - y0;
  const grey = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = ((y + y0) * face.size + (x + x0)) * 3;
      grey[y * width + x] = 0.299 * face.data[p] + 0.587 * face.data[p + 1] + 0.114 * face.data[p + 2];
    }
  }
  return { grey, width, height };
}

function meanVar(values: Float64Array): { mean: number; variance: number } {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let variance = 0;
  for (const v of values) variance += (v - mean) ** 2;
  return { mean, variance: variance / values.length };
}

/**
 * Variance of the 4-neighbour Laplacian of the grey face box (grey levels²). Blur and
 * upscaled low-resolution faces lose high frequencies, so the Laplacian flattens.
 */
export function sharpness(face: FaceImage): number {
  const { grey, width, height } = greyBox(face);
  const lap = new Float64Array((width - 2) * (height - 2));
  let i = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const c = y * width + x;
      lap[i++] = grey[c - 1] + grey[c + 1] + grey[c - width] + grey[c + width] - 4 * grey[c];
    }
  }
  return meanVar(lap).variance;
}

/** Grey std (0..1 units) at which contrast stops being penalised: ~38 grey levels. */
const CONTRAST_TARGET = 0.15;
/** Luma at or beyond these is treated as clipped: detail there is gone. */
const CLIP_LOW = 5;
const CLIP_HIGH = 250;

/**
 * Exposure and contrast of the face box, in [0, 1]:
 *   exposure · contrast · unclipped, with m, s = mean and std of grey / 255,
 *   exposure  = 1 − |m − 0.5| / 0.5        (1 at mid-grey, 0 all black or all white)
 *   contrast  = min(1, s / 0.15)            (flat, foggy faces score low)
 *   unclipped = 1 − fraction of pixels with grey <= 5 or >= 250.
 * A product, because any one failure alone makes the face unusable.
 */
export function brightnessContrast(face: FaceImage): number {
  const { grey } = greyBox(face);
  const { mean, variance } = meanVar(grey);
  let clipped = 0;
  for (const v of grey) if (v <= CLIP_LOW || v >= CLIP_HIGH) clipped++;
  const exposure = 1 - Math.abs(mean / 255 - 0.5) / 0.5;
  const contrast = Math.min(1, Math.sqrt(variance) / 255 / CONTRAST_TARGET);
  return exposure * contrast * (1 - clipped / grey.length);
}

/** Inter-ocular distance in the original crop, px: resolution is the simplest quality signal. */
export function faceSize(eyeDistance: number): number {
  if (!Number.isFinite(eyeDistance) || eyeDistance < 0) {
    throw new GateError('INPUT_BAD_LANDMARKS', `eye distance must be a finite non-negative number, got ${eyeDistance}`);
  }
  return eyeDistance;
}

/** L2 norm of a raw embedding; MagFace-style models encode quality in it. */
export function embeddingNorm(embedding: Float32Array | Float64Array | readonly number[]): number {
  if (embedding.length === 0) throw new GateError('MODEL_OUTPUT', 'embedding is empty');
  let sum = 0;
  for (let i = 0; i < embedding.length; i++) sum += embedding[i] * embedding[i];
  const norm = Math.sqrt(sum);
  if (!Number.isFinite(norm)) throw new GateError('MODEL_OUTPUT', 'embedding contains a non-finite value');
  return norm;
}

/** Uniform in [0, 1) seeded by the frame id: the "no better than chance" reference, reproducible. */
export function random(frameId: string): number {
  return createRng(`random-baseline:${frameId}`).uniform();
}

export const baselineNames = ['sharpness', 'brightnessContrast', 'faceSize', 'embeddingNorm', 'random'] as const;
export type BaselineName = (typeof baselineNames)[number];

/** What a baseline may look at; each uses only its own field. */
export interface BaselineContext {
  frameId: string;
  face?: FaceImage;
  eyeDistance?: number;
  embedding?: Float32Array | readonly number[];
}

function need<T>(value: T | undefined, name: BaselineName, field: string): T {
  if (value === undefined) throw new GateError('USAGE', `baseline ${name} needs ${field}`);
  return value;
}

/** One entry point so the evaluate CLI can take baseline names from the command line. */
export function scoreBaseline(name: BaselineName, ctx: BaselineContext): number {
  switch (name) {
    case 'sharpness': return sharpness(need(ctx.face, name, 'the aligned face'));
    case 'brightnessContrast': return brightnessContrast(need(ctx.face, name, 'the aligned face'));
    case 'faceSize': return faceSize(need(ctx.eyeDistance, name, 'the eye distance'));
    case 'embeddingNorm': return embeddingNorm(need(ctx.embedding, name, 'an embedding'));
    case 'random': return random(ctx.frameId);
    // Names arrive from the command line as strings: the type alone does not guard them.
    default: throw new GateError('USAGE', `unknown baseline "${name as string}", expected one of ${baselineNames.join(', ')}`);
  }
}

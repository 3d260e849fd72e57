import sharp from 'sharp';
import { GateError } from '../core/errors.js';
import type { Landmarks5, RgbImage } from '../core/frame.js';
import type { ColorOrder, Normalisation } from './tensor.js';

/**
 * Pre- and post-processing for the RetinaFace-MobileNet0.25 ONNX export (biubug6/Pytorch_Retinaface):
 * input `input0` [1,3,640,640]; outputs `output0` box offsets [1,N,4], `572` softmaxed scores [1,N,2]
 * (column 1 = face), `571` landmark offsets [1,N,10], over N = 16,800 anchor priors.
 */
export const RETINAFACE_SIZE = 640;
export const RETINAFACE_OUTPUTS = { boxes: 'output0', scores: '572', landmarks: '571' } as const;
/** The model's own contract (BGR minus 104/117/123, no scaling), used when no manifest entry is given. */
export const RETINAFACE_NORMALISATION: Normalisation = { mean: [104 / 255, 117 / 255, 123 / 255], std: [1 / 255, 1 / 255, 1 / 255] };

const STEPS = [8, 16, 32];
const MIN_SIZES = [[16, 32], [64, 128], [256, 512]];
const VARIANCE_CENTRE = 0.1;
const VARIANCE_SIZE = 0.2;

export interface Letterboxed {
  tensor: Float32Array;
  /** Model pixels per crop pixel: exact along the longer side, the shorter is rounded to whole model pixels. */
  scale: number;
}

export interface LetterboxOptions {
  norm?: Normalisation;
  colorOrder?: ColorOrder;
  /** Longer side of the crop once scaled into the 640×640 input, px; see DEFAULT_TARGET_SIDE. */
  targetSide?: number;
}

/**
 * Every crop, small or large, is scaled so that its longer side is 320 px, leaving the rest of the
 * 640×640 input as padding. Filling the input instead (longer side 640, the obvious choice) doubles
 * the landmark error on face crops: a face that fills the crop then spans ~550 px, beyond the largest
 * anchors (512) and with no context around it. Measured on 40–60 LFW faces cut as camera-style crops
 * (tight 110–150 px, downscaled to 24–100 px or upscaled to 400–640 px), mean landmark error over
 * inter-ocular distance against the full image's landmarks: longer side 640 → 0.060–0.104,
 * 480 → 0.070, 400 → 0.038–0.054, 320 → 0.038–0.049, 192 → 0.046 (worse on larger crops).
 * The cost: a face must span at least ~5 % of the crop's longer side (16 px of 320) to be found,
 * which crops from an upstream face detector always satisfy; whole scenes with tiny faces should
 * set targetSide to 640.
 */
export const DEFAULT_TARGET_SIDE = 320;

/**
 * Scales the crop (see DEFAULT_TARGET_SIDE) and places it top-left in a 640×640 tensor; the
 * padding is 0 after normalisation, i.e. the mean colour.
 */
export async function letterbox(img: RgbImage, opts: LetterboxOptions = {}): Promise<Letterboxed> {
  const norm = opts.norm ?? RETINAFACE_NORMALISATION;
  const colorOrder = opts.colorOrder ?? 'BGR';
  const S = RETINAFACE_SIZE;
  const target = Math.min(S, opts.targetSide ?? DEFAULT_TARGET_SIDE);
  const scale = target / Math.max(img.width, img.height);
  const w = Math.min(S, Math.max(1, Math.round(img.width * scale)));
  const h = Math.min(S, Math.max(1, Math.round(img.height * scale)));
  const pixels = w === img.width && h === img.height
    ? img.data
    : await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .resize(w, h, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();

  const tensor = new Float32Array(3 * S * S);
  const src = colorOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  for (let k = 0; k < 3; k++) {
    const sc = 1 / (255 * norm.std[k]), off = norm.mean[k] / norm.std[k];
    const plane = k * S * S;
    for (let y = 0; y < h; y++) {
      let o = plane + y * S;
      const end = (y * w + w) * 3;
      for (let i = y * w * 3 + src[k]; i < end; i += 3) tensor[o++] = pixels[i] * sc - off;
    }
  }
  return { tensor, scale };
}

let priorCache: Float32Array | undefined;

/** Anchor priors (cx, cy, w, h), relative to the 640 px input, in the order of the model's outputs. */
export function priors(): Float32Array {
  if (priorCache) return priorCache;
  const S = RETINAFACE_SIZE;
  const count = STEPS.reduce((n, step, k) => n + Math.ceil(S / step) ** 2 * MIN_SIZES[k].length, 0);
  const out = new Float32Array(count * 4);
  let o = 0;
  STEPS.forEach((step, k) => {
    const cells = Math.ceil(S / step);
    for (let i = 0; i < cells; i++) {
      for (let j = 0; j < cells; j++) {
        for (const m of MIN_SIZES[k]) {
          out[o++] = ((j + 0.5) * step) / S;
          out[o++] = ((i + 0.5) * step) / S;
          out[o++] = m / S;
          out[o++] = m / S;
        }
      }
    }
  });
  priorCache = out;
  return out;
}

export interface Detection {
  /** x1, y1, x2, y2 in crop pixels. */
  box: [number, number, number, number];
  score: number;
  landmarks: Landmarks5;
}

export interface DecodeOptions {
  scoreThreshold?: number;
  nmsIou?: number;
  /** Most candidates kept before NMS, so a pathological output cannot make NMS quadratic in 16,800. */
  maxCandidates?: number;
}

type Tensors = Record<string, { data: Float32Array; dims: readonly number[] }>;

function output(outputs: Tensors, name: string, width: number, n: number): Float32Array {
  const t = outputs[name];
  if (!t || t.data.length !== n * width) {
    throw new GateError('MODEL_OUTPUT', `RetinaFace output '${name}' should hold ${n}×${width} values, got ${t ? t.data.length : 'none'}`);
  }
  return t.data;
}

/** Turns raw model outputs into face detections in crop pixels (`scale` from letterbox), after NMS, best first. */
export function decodeDetections(outputs: Tensors, scale: number, opts: DecodeOptions = {}): Detection[] {
  const { scoreThreshold = 0.5, nmsIou = 0.4, maxCandidates = 1000 } = opts;
  const pr = priors();
  const n = pr.length / 4;
  const loc = output(outputs, RETINAFACE_OUTPUTS.boxes, 4, n);
  const conf = output(outputs, RETINAFACE_OUTPUTS.scores, 2, n);
  const lm = output(outputs, RETINAFACE_OUTPUTS.landmarks, 10, n);

  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (conf[i * 2 + 1] >= scoreThreshold) candidates.push(i);
  candidates.sort((a, b) => conf[b * 2 + 1] - conf[a * 2 + 1]);
  if (candidates.length > maxCandidates) candidates.length = maxCandidates;

  const k = RETINAFACE_SIZE / scale;
  const detections = candidates.map((i): Detection => {
    const pcx = pr[i * 4], pcy = pr[i * 4 + 1], pw = pr[i * 4 + 2], ph = pr[i * 4 + 3];
    const cx = pcx + loc[i * 4] * VARIANCE_CENTRE * pw;
    const cy = pcy + loc[i * 4 + 1] * VARIANCE_CENTRE * ph;
    const w = pw * Math.exp(loc[i * 4 + 2] * VARIANCE_SIZE);
    const h = ph * Math.exp(loc[i * 4 + 3] * VARIANCE_SIZE);
    const landmarks: Landmarks5 = [];
    for (let p = 0; p < 5; p++) {
      landmarks.push([
        (pcx + lm[i * 10 + 2 * p] * VARIANCE_CENTRE * pw) * k,
        (pcy + lm[i * 10 + 2 * p + 1] * VARIANCE_CENTRE * ph) * k,
      ]);
    }
    return { box: [(cx - w / 2) * k, (cy - h / 2) * k, (cx + w / 2) * k, (cy + h / 2) * k], score: conf[i * 2 + 1], landmarks };
  });
  return nms(detections, nmsIou);
}

function iou(a: Detection['box'], b: Detection['box']): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/** Greedy non-maximum suppression over detections sorted best first. */
export function nms(sorted: Detection[], threshold: number): Detection[] {
  const kept: Detection[] = [];
  for (const d of sorted) if (kept.every((k) => iou(k.box, d.box) <= threshold)) kept.push(d);
  return kept;
}

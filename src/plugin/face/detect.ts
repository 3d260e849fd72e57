import { GateError } from '../core/errors.js';
import type { Landmarks5, RgbImage } from '../core/frame.js';
import { decodeDetections, letterbox, RETINAFACE_SIZE, type DecodeOptions, type Detection, type LetterboxOptions } from './retinaface.js';

export interface TensorData {
  data: Float32Array;
  dims: number[];
}

/** Runs model `modelId` on named input tensors; the inference pool provides the real one. */
export type InferFn = (modelId: string, inputs: Record<string, TensorData>) => Promise<Record<string, TensorData>>;

export interface DetectOptions extends DecodeOptions, LetterboxOptions {
  modelId: string;
  /** Name of the model's input tensor. */
  inputName?: string;
}

export interface DetectedFace {
  landmarks: Landmarks5;
  score: number;
  box: Detection['box'];
}

/**
 * Weight of a detection when choosing among several: score × centrality, where centrality falls
 * linearly from 1 at the crop centre to 0 at a corner (box centre's distance over the half-diagonal).
 * Crops come from an upstream detector centred on its subject, so a confident bystander at the edge
 * loses to a slightly less confident face in the middle.
 */
export function selectionWeight(d: Detection, width: number, height: number): number {
  const cx = (d.box[0] + d.box[2]) / 2, cy = (d.box[1] + d.box[3]) / 2;
  const dist = Math.hypot(cx - width / 2, cy - height / 2) / Math.hypot(width / 2, height / 2);
  return d.score * Math.max(0, 1 - dist);
}

/** Finds the crop's subject face: the detection with the highest selectionWeight; none gives INPUT_NO_FACE. */
export async function detectFace(img: RgbImage, infer: InferFn, opts: DetectOptions): Promise<DetectedFace> {
  const { tensor, scale } = await letterbox(img, opts);
  const S = RETINAFACE_SIZE;
  const outputs = await infer(opts.modelId, { [opts.inputName ?? 'input0']: { data: tensor, dims: [1, 3, S, S] } });
  const detections = decodeDetections(outputs, scale, opts);
  let best: Detection | undefined;
  let bestWeight = -1;
  for (const d of detections) {
    const w = selectionWeight(d, img.width, img.height);
    if (w > bestWeight) { best = d; bestWeight = w; }
  }
  if (!best) throw new GateError('INPUT_NO_FACE', 'no face found in the image', { details: { scoreThreshold: opts.scoreThreshold ?? 0.5 } });
  return { landmarks: best.landmarks, score: best.score, box: best.box };
}

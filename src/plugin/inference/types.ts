import type { ColorOrder, Normalisation } from '../face/tensor.js';

/** A tensor as it crosses the worker boundary: plain typed arrays, transferable. */
export interface Tensor {
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
  dims: number[];
}

export type Feeds = Record<string, Tensor>;

/**
 * Aligned faces as uint8 HWC crops [n, s, s, 3], sent to the worker as they are (a quarter of the
 * bytes of the float tensor) and normalised there into the model's NCHW float32 input, in a buffer
 * the worker reuses: the main thread then neither allocates nor copies a float tensor per frame.
 */
export interface FacesFeed {
  type: 'faces';
  data: Uint8Array;
  dims: number[];
  norm: Normalisation;
  colorOrder: ColorOrder;
}

/** What a run may be fed: plain tensors, or faces the worker packs. Outputs are always plain. */
export type InputFeeds = Record<string, Tensor | FacesFeed>;

export interface LoadRequest {
  kind: 'load';
  id: number;
  modelId: string;
  file: string;
  batch: 'dynamic' | 'fixed1';
  executionProviders: string[];
  intraOpThreads: number;
}

export interface RunRequest {
  kind: 'run';
  id: number;
  modelId: string;
  feeds: InputFeeds;
}

/** `exit`: the worker ends as a crashed one would (fault drills), once its runs in flight are done. */
export type WorkerRequest = LoadRequest | RunRequest | { kind: 'unload'; id: number; modelId: string } | { kind: 'close'; id: number } | { kind: 'exit'; id: number };

export type WorkerResponse =
  | { id: number; ok: true; provider?: string; outputs?: Feeds; ms?: number }
  | { id: number; ok: false; code: string; message: string };

export function float32(data: Float32Array, dims: number[]): Tensor {
  return { type: 'float32', data, dims };
}

/** h×w uint8 HWC faces end to end in one new buffer (it is transferred to the worker, so never reused). */
export function facesFeed(faces: readonly Uint8Array[], [h, w]: readonly [number, number], format: Pick<FacesFeed, 'norm' | 'colorOrder'>): FacesFeed {
  const per = h * w * 3;
  const data = new Uint8Array(faces.length * per);
  faces.forEach((f, i) => data.set(f, i * per));
  return { type: 'faces', data, dims: [faces.length, h, w, 3], ...format };
}

/** A tensor as it crosses the worker boundary: plain typed arrays, transferable. */
export interface Tensor {
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
  dims: number[];
}

export type Feeds = Record<string, Tensor>;

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
  feeds: Feeds;
}

export type WorkerRequest = LoadRequest | RunRequest | { kind: 'close'; id: number };

export type WorkerResponse =
  | { id: number; ok: true; provider?: string; outputs?: Feeds; ms?: number }
  | { id: number; ok: false; code: string; message: string };

export function float32(data: Float32Array, dims: number[]): Tensor {
  return { type: 'float32', data, dims };
}

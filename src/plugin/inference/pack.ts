import { toTensor } from '../face/tensor.js';
import { GateError } from '../core/errors.js';
import type { FacesFeed, Feeds, InputFeeds, Tensor } from './types.js';

/**
 * The worker's side of FacesFeed: packs uint8 HWC faces into normalised NCHW float32 tensors in
 * buffers it keeps between runs. One buffer per run in flight; a buffer too small for a batch is
 * replaced, so the set settles at the largest batch and never outgrows the runs in flight.
 */
export class FacePacker {
  readonly #free: Float32Array[] = [];

  /** Every faces feed becomes a float tensor; call release() once the run no longer reads them. */
  pack(feeds: InputFeeds): { feeds: Feeds; release: () => void } {
    const out: Feeds = {};
    const taken: Float32Array[] = [];
    for (const [name, feed] of Object.entries(feeds)) {
      if (feed.type !== 'faces') { out[name] = feed; continue; }
      const buffer = this.#take(feed.data.length);
      taken.push(buffer);
      out[name] = packFaces(feed, buffer.length === feed.data.length ? buffer : buffer.subarray(0, feed.data.length));
    }
    return { feeds: out, release: () => { this.#free.push(...taken); } };
  }

  #take(size: number): Float32Array {
    const i = this.#free.findIndex((b) => b.length >= size);
    if (i >= 0) return this.#free.splice(i, 1)[0];
    this.#free.pop();
    return new Float32Array(size);
  }
}

function packFaces(feed: FacesFeed, dst: Float32Array): Tensor {
  const [n, h, w, c] = feed.dims;
  if (feed.dims.length !== 4 || c !== 3 || h !== w || n * h * w * c !== feed.data.length) {
    throw new GateError('INTERNAL', `faces feed must be [n, s, s, 3] uint8 crops, got dims [${feed.dims.join(', ')}] for ${feed.data.length} bytes`);
  }
  const per = h * w * c;
  const faces = Array.from({ length: n }, (_, i) => feed.data.subarray(i * per, (i + 1) * per));
  return { type: 'float32', data: toTensor(faces, feed.norm, feed.colorOrder, dst), dims: [n, c, h, w] };
}

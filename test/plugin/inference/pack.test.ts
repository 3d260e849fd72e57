import { describe, expect, it } from 'vitest';
import { FacePacker } from '../../../src/plugin/inference/pack.js';
import { toTensor } from '../../../src/plugin/face/tensor.js';
import type { FacesFeed } from '../../../src/plugin/inference/types.js';

const norm = { mean: [0.5, 0.4, 0.3], std: [0.5, 0.25, 0.2] };

function faces(n: number, size: number, seed: number): Uint8Array {
  const a = new Uint8Array(n * size * size * 3);
  for (let i = 0; i < a.length; i++) a[i] = (i * 31 + seed * 7) % 256;
  return a;
}

function feed(n: number, size: number, seed: number, colorOrder: 'RGB' | 'BGR' = 'RGB'): FacesFeed {
  return { type: 'faces', data: faces(n, size, seed), dims: [n, size, size, 3], norm, colorOrder };
}

describe('FacePacker', () => {
  it('pack should equal toTensor of the same faces, in NCHW dims, for either colour order', () => {
    const packer = new FacePacker();
    for (const order of ['RGB', 'BGR'] as const) {
      const f = feed(3, 8, 1, order);
      const { feeds } = packer.pack({ x: f });
      const per = 8 * 8 * 3;
      const want = toTensor([0, 1, 2].map((i) => f.data.subarray(i * per, (i + 1) * per)), norm, order);
      expect(feeds.x.dims).toEqual([3, 3, 8, 8]);
      expect(Array.from(feeds.x.data as Float32Array)).toEqual(Array.from(want));
    }
  });

  it('pack should reuse a released buffer for a smaller batch, and not one still in use', () => {
    const packer = new FacePacker();
    const a = packer.pack({ x: feed(4, 8, 1) });
    const b = packer.pack({ x: feed(4, 8, 2) });
    expect(b.feeds.x.data.buffer).not.toBe(a.feeds.x.data.buffer);
    const bufferA = a.feeds.x.data.buffer;
    a.release();
    const c = packer.pack({ x: feed(2, 8, 3) });
    expect(c.feeds.x.data.buffer).toBe(bufferA);
    expect(c.feeds.x.data.length).toBe(2 * 3 * 8 * 8);
    expect(Array.from(c.feeds.x.data as Float32Array)).toEqual(Array.from(packer.pack({ x: feed(2, 8, 3) }).feeds.x.data as Float32Array));
  });

  it('pack should pass plain tensors through untouched', () => {
    const t = { type: 'float32' as const, data: new Float32Array([1, 2]), dims: [2] };
    expect(new FacePacker().pack({ t }).feeds.t).toBe(t);
  });

  it('pack should refuse faces whose dims do not match their bytes with INTERNAL', () => {
    const bad = { ...feed(2, 8, 1), dims: [3, 8, 8, 3] };
    expect(() => new FacePacker().pack({ x: bad })).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });
});

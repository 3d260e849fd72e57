import { describe, expect, it } from 'vitest';
import type { AlignedFace } from '../../../src/plugin/core/frame.js';
import { toTensor } from '../../../src/plugin/face/tensor.js';

const SIZE = 4;
function face(seed: number): Uint8Array {
  const data = new Uint8Array(SIZE * SIZE * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 101) % 256;
  return data;
}
const asAligned = (data: Uint8Array): AlignedFace => ({ size: SIZE, data, landmarkSource: 'message', landmarks: [], eyeDistance: 1 });

describe('toTensor', () => {
  it('toTensor should lay faces out NCHW with (pixel/255 − mean)/std per channel', () => {
    const norm = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    const faces = [face(1), face(2)];
    const t = toTensor(faces, norm, 'RGB');
    expect(t.length).toBe(2 * 3 * SIZE * SIZE);
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
      const pixel = faces[n][(y * SIZE + x) * 3 + c];
      expect(t[((n * 3 + c) * SIZE + y) * SIZE + x]).toBeCloseTo((pixel / 255 - norm.mean[c]) / norm.std[c], 5);
    }
  });

  it('toTensor should put blue first for BGR models and apply mean/std in that order', () => {
    const norm = { mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 0.125] };
    const f = face(3);
    const t = toTensor([f], norm, 'BGR');
    const plane = SIZE * SIZE;
    for (let i = 0; i < plane; i++) {
      expect(t[i]).toBeCloseTo((f[i * 3 + 2] / 255 - 0.1) / 0.5, 5);
      expect(t[plane + i]).toBeCloseTo((f[i * 3 + 1] / 255 - 0.2) / 0.25, 5);
      expect(t[2 * plane + i]).toBeCloseTo((f[i * 3] / 255 - 0.3) / 0.125, 5);
    }
  });

  it('toTensor should accept AlignedFaces and fill a reused buffer', () => {
    const norm = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    const raw = [face(4), face(5)];
    const out = new Float32Array(2 * 3 * SIZE * SIZE).fill(Number.NaN);
    const t = toTensor(raw.map(asAligned), norm, 'RGB', out);
    expect(t).toBe(out);
    expect(t).toEqual(toTensor(raw, norm, 'RGB'));
    expect(Math.min(...t)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...t)).toBeLessThanOrEqual(1);
  });

  it('toTensor should refuse bad normalisation and mixed face sizes', () => {
    const ok = { mean: [0, 0, 0], std: [1, 1, 1] };
    expect(() => toTensor([face(1)], { mean: [0, 0], std: [1, 1, 1] }, 'RGB')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => toTensor([face(1)], { mean: [0, 0, 0], std: [1, 0, 1] }, 'RGB')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => toTensor([face(1), new Uint8Array(3 * 9)], ok, 'RGB')).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    expect(() => toTensor([face(1)], ok, 'RGB', new Float32Array(5))).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });
});

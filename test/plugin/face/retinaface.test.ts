import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/plugin/core/frame.js';
import { decodeDetections, letterbox, nms, priors, RETINAFACE_OUTPUTS, type Detection } from '../../../src/plugin/face/retinaface.js';

const N = 16800;
const S = 640;

function emptyOutputs() {
  return {
    [RETINAFACE_OUTPUTS.boxes]: { data: new Float32Array(N * 4), dims: [1, N, 4] },
    [RETINAFACE_OUTPUTS.scores]: { data: new Float32Array(N * 2), dims: [1, N, 2] },
    [RETINAFACE_OUTPUTS.landmarks]: { data: new Float32Array(N * 10), dims: [1, N, 10] },
  };
}

/** Index of the prior for a cell of a stride level; sizes alternate within a cell. */
function priorIndex(level: 0 | 1 | 2, row: number, col: number, second: boolean): number {
  const offsets = [0, 80 * 80 * 2, 80 * 80 * 2 + 40 * 40 * 2];
  const cells = [80, 40, 20][level];
  return offsets[level] + (row * cells + col) * 2 + (second ? 1 : 0);
}

function flat(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
  return { width, height, data };
}

describe('priors', () => {
  it('priors should give 16,800 anchors in the order steps 8/16/32, two sizes per cell', () => {
    const p = priors();
    expect(p.length).toBe(N * 4);
    expect(priors()).toBe(p);
    const at = (i: number) => [...p.subarray(i * 4, i * 4 + 4)].map((v) => v * S);
    expect(at(0)).toEqual([4, 4, 16, 16].map((v) => expect.closeTo(v, 4)));
    expect(at(1)).toEqual([4, 4, 32, 32].map((v) => expect.closeTo(v, 4)));
    expect(at(2)).toEqual([12, 4, 16, 16].map((v) => expect.closeTo(v, 4)));
    expect(at(priorIndex(1, 0, 0, false))).toEqual([8, 8, 64, 64].map((v) => expect.closeTo(v, 4)));
    expect(at(priorIndex(1, 3, 5, true))).toEqual([88, 56, 128, 128].map((v) => expect.closeTo(v, 4)));
    expect(at(N - 1)).toEqual([624, 624, 512, 512].map((v) => expect.closeTo(v, 4)));
  });
});

describe('decodeDetections', () => {
  it('decodeDetections should decode offsets with variances 0.1/0.2 and scale back to the crop', () => {
    const out = emptyOutputs();
    const i = priorIndex(1, 10, 20, false); // centre (328, 168), size 64
    out['572'].data[i * 2 + 1] = 0.9;
    out.output0.data.set([0.5, -0.5, Math.log(1.5) / 0.2, 0], i * 4);
    out['571'].data.set([1, 0, 0, 1, -1, 0, 0, -1, 2, 2], i * 10);
    const [d, ...rest] = decodeDetections(out, 0.5);
    expect(rest).toEqual([]);
    expect(d.score).toBeCloseTo(0.9, 6);
    const cx = 328 + 0.05 * 64, cy = 168 - 0.05 * 64, w = 96, h = 64;
    d.box.forEach((v, k) => expect(v).toBeCloseTo([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2][k] * 2, 3));
    const want = [[334.4, 168], [328, 174.4], [321.6, 168], [328, 161.6], [340.8, 180.8]];
    d.landmarks.forEach(([x, y], k) => {
      expect(x).toBeCloseTo(want[k][0] * 2, 3);
      expect(y).toBeCloseTo(want[k][1] * 2, 3);
    });
  });

  it('decodeDetections should drop low scores and suppress overlaps, best first', () => {
    const out = emptyOutputs();
    const a = priorIndex(1, 10, 20, false), b = priorIndex(1, 10, 21, false), c = priorIndex(0, 70, 5, false), low = priorIndex(2, 2, 2, true);
    out['572'].data[a * 2 + 1] = 0.8; // 64 px box
    out['572'].data[b * 2 + 1] = 0.95; // same size, 16 px to the right: IoU 0.6 with a
    out['572'].data[c * 2 + 1] = 0.7; // far away
    out['572'].data[low * 2 + 1] = 0.3;
    const found = decodeDetections(out, 1);
    expect(found.map((d) => d.score)).toEqual([expect.closeTo(0.95, 6), expect.closeTo(0.7, 6)]);
    expect(decodeDetections(out, 1, { nmsIou: 0.7 }).length).toBe(3);
    expect(decodeDetections(out, 1, { scoreThreshold: 0.2 }).length).toBe(3);
    expect(decodeDetections(out, 1, { scoreThreshold: 0.99 })).toEqual([]);
  });

  it('decodeDetections should reject outputs of the wrong size with MODEL_OUTPUT', () => {
    const out = emptyOutputs();
    out['571'] = { data: new Float32Array(10), dims: [1, 1, 10] };
    expect(() => decodeDetections(out, 1)).toThrow(expect.objectContaining({ code: 'MODEL_OUTPUT' }));
    expect(() => decodeDetections({}, 1)).toThrow(expect.objectContaining({ code: 'MODEL_OUTPUT' }));
  });
});

describe('nms', () => {
  it('nms should keep a box that overlaps only suppressed ones', () => {
    const det = (x: number, score: number): Detection => ({ box: [x, 0, x + 10, 10], score, landmarks: [] });
    // IoU(0, 4) = 6/14 ≈ 0.43, IoU(4, 8) ≈ 0.43, IoU(0, 8) = 2/18.
    expect(nms([det(0, 0.9), det(4, 0.8), det(8, 0.7)], 0.4).map((d) => d.box[0])).toEqual([0, 8]);
  });
});

describe('letterbox', () => {
  it('letterbox should scale the longer side to 320 and place the crop top-left in BGR minus the means', async () => {
    const { tensor, scale } = await letterbox(flat(100, 50, [10, 20, 30]));
    expect(scale).toBeCloseTo(3.2, 9);
    expect(tensor.length).toBe(3 * S * S);
    const at = (c: number, x: number, y: number) => tensor[c * S * S + y * S + x];
    for (const [x, y] of [[0, 0], [319, 0], [0, 159], [319, 159], [150, 80]]) {
      expect(at(0, x, y)).toBeCloseTo(30 - 104, 3);
      expect(at(1, x, y)).toBeCloseTo(20 - 117, 3);
      expect(at(2, x, y)).toBeCloseTo(10 - 123, 3);
    }
    for (const [x, y] of [[320, 0], [0, 160], [639, 639]]) for (let c = 0; c < 3; c++) expect(at(c, x, y)).toBe(0);
  });

  it('letterbox should keep the layout (no transposition) and honour targetSide', async () => {
    const img = flat(1280, 640, [0, 0, 0]);
    for (let y = 0; y < 640; y++) img.data.fill(255, y * 1280 * 3, y * 1280 * 3 + 640 * 3); // left half white
    const { tensor, scale } = await letterbox(img, { targetSide: 640 });
    expect(scale).toBe(0.5);
    const blue = (x: number, y: number) => tensor[y * S + x];
    expect(blue(100, 300)).toBeCloseTo(255 - 104, 3);
    expect(blue(500, 10)).toBeCloseTo(-104, 3);
    expect(blue(500, 330)).toBe(0);
  });

  it('letterbox should use a given normalisation and colour order', async () => {
    const { tensor } = await letterbox(flat(320, 320, [51, 102, 204]), { norm: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, colorOrder: 'RGB' });
    expect(tensor[0]).toBeCloseTo(51 / 127.5 - 1, 5);
    expect(tensor[S * S]).toBeCloseTo(102 / 127.5 - 1, 5);
    expect(tensor[2 * S * S]).toBeCloseTo(204 / 127.5 - 1, 5);
  });
});

import { GateError } from '../core/errors.js';
import type { AlignedFace, Landmarks5, Rect, RgbImage } from '../core/frame.js';

/** Side of the aligned face, px. */
export const ALIGNED_SIZE = 112;

/** The standard ArcFace 5-point template for 112×112 crops: eyes, nose tip, mouth corners. */
export const ARCFACE_TEMPLATE: readonly (readonly [number, number])[] = Object.freeze([
  Object.freeze([38.2946, 51.6963] as const),
  Object.freeze([73.5318, 51.5014] as const),
  Object.freeze([56.0252, 71.7366] as const),
  Object.freeze([41.5493, 92.3655] as const),
  Object.freeze([70.7299, 92.2041] as const),
]);

/** Row-major 2×3 affine matrix [a, b, tx, c, d, ty]: x' = a·x + b·y + tx, y' = c·x + d·y + ty. */
export type Affine = [number, number, number, number, number, number];

type Points = readonly (readonly [number, number])[];

/**
 * Least-squares similarity (rotation, uniform scale, translation) taking `src` onto `dst`:
 * Umeyama's solution as skimage's SimilarityTransform.estimate computes it.
 *
 * In 2D it has a closed form. With A = cov(dst, src) and A = U·S·Vᵀ, Umeyama takes R = U·D·Vᵀ and
 * scale = tr(S·D)/σ²(src), where D = diag(1, −1) when det A < 0 (or, when A has rank 1, when
 * det U·det V < 0) so that R is never a reflection. Writing A = Rot(φ)·diag(s1, s2)·Rot(θ) with a
 * signed s2, every one of those branches gives R = Rot(φ + θ) and scale·tr = s1 + s2, i.e.
 * scale·R = (2/σ²)·[[E, −H], [H, E]] with E = (A00 + A11)/2 and H = (A10 − A01)/2.
 * Returns NaNs when all source points coincide, as skimage does; where skimage also gives NaNs for
 * a zero covariance (all destination points equal), this gives the constant map onto their mean.
 */
export function estimateSimilarity(src: Points, dst: Points): Affine {
  const n = src.length;
  if (n !== dst.length || n < 2) throw new GateError('INTERNAL', `need ≥2 matching point pairs, got ${n} and ${dst.length}`);
  let smx = 0, smy = 0, dmx = 0, dmy = 0;
  for (let i = 0; i < n; i++) {
    smx += src[i][0]; smy += src[i][1];
    dmx += dst[i][0]; dmy += dst[i][1];
  }
  smx /= n; smy /= n; dmx /= n; dmy /= n;
  let a00 = 0, a01 = 0, a10 = 0, a11 = 0, varSrc = 0;
  for (let i = 0; i < n; i++) {
    const sx = src[i][0] - smx, sy = src[i][1] - smy;
    const dx = dst[i][0] - dmx, dy = dst[i][1] - dmy;
    a00 += dx * sx; a01 += dx * sy; a10 += dy * sx; a11 += dy * sy;
    varSrc += sx * sx + sy * sy;
  }
  // The 1/n of the covariance and of the variance cancel.
  const p = (a00 + a11) / varSrc;
  const q = (a10 - a01) / varSrc;
  return [p, -q, dmx - (p * smx - q * smy), q, p, dmy - (q * smx + p * smy)];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  const ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

/**
 * The pixels of a width×height image that warpAffine(·, m, size) reads: the box around the four
 * output corners mapped back, widened by the bilinear neighbour and one more pixel (the warp steps
 * its coordinates incrementally, so they may differ from these in the last bits), within the image.
 * Undefined when the face falls entirely outside it.
 */
export function sourceWindow(m: Affine, width: number, height: number, size = ALIGNED_SIZE): Rect | undefined {
  const [ia, ib, itx, ic, id, ity] = invertAffine(m);
  const xs = [0, size - 1].flatMap((x) => [0, size - 1].map((y) => ia * x + ib * y + itx));
  const ys = [0, size - 1].flatMap((x) => [0, size - 1].map((y) => ic * x + id * y + ity));
  const x0 = Math.max(0, Math.floor(Math.min(...xs)) - 1), x1 = Math.min(width - 1, Math.floor(Math.max(...xs)) + 2);
  const y0 = Math.max(0, Math.floor(Math.min(...ys)) - 1), y1 = Math.min(height - 1, Math.floor(Math.max(...ys)) + 2);
  if (!(x1 >= x0 && y1 >= y0)) return undefined;
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/**
 * Warps `img` by `m` (source → output coordinates, pixel centres at integer positions as in
 * OpenCV's warpAffine) into a size×size RGB image: bilinear, inverse mapping, black outside.
 * A windowed image (img.window, at least sourceWindow's box) warps to the very same bytes: the
 * coordinates and the inside/outside tests stay those of the whole image, only reads are shifted.
 * `out` may be passed to reuse a buffer of size·size·3 bytes.
 */
export function warpAffine(img: RgbImage, m: Affine, size = ALIGNED_SIZE, out?: Uint8Array): Uint8Array {
  const dst = out ?? new Uint8Array(size * size * 3);
  if (dst.length !== size * size * 3) throw new GateError('INTERNAL', `output buffer is ${dst.length} bytes, need ${size * size * 3}`);
  const [ia, ib, itx, ic, id, ity] = invertAffine(m);
  const { width: w, height: h, data: src } = img;
  const win = img.window ?? { x: 0, y: 0, width: w, height: h };
  const stride = win.width * 3;
  // Byte offset of image pixel (x, y) in `src` is y·stride + x·3 − shift.
  const shift = win.y * stride + win.x * 3;
  let o = 0;
  for (let y = 0; y < size; y++) {
    let sx = ib * y + itx;
    let sy = id * y + ity;
    for (let x = 0; x < size; x++, o += 3, sx += ia, sy += ic) {
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
        const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
        const p = y0 * stride + x0 * 3 - shift, q = p + stride;
        dst[o] = (src[p] * w00 + src[p + 3] * w01 + src[q] * w10 + src[q + 3] * w11 + 0.5) | 0;
        dst[o + 1] = (src[p + 1] * w00 + src[p + 4] * w01 + src[q + 1] * w10 + src[q + 4] * w11 + 0.5) | 0;
        dst[o + 2] = (src[p + 2] * w00 + src[p + 5] * w01 + src[q + 2] * w10 + src[q + 5] * w11 + 0.5) | 0;
      } else if (x0 < -1 || y0 < -1 || x0 >= w || y0 >= h) {
        dst[o] = 0; dst[o + 1] = 0; dst[o + 2] = 0;
      } else {
        sampleAtBorder(src, w, h, stride, shift, x0, y0, fx, fy, dst, o);
      }
    }
  }
  return dst;
}

/** Bilinear sample where some of the four neighbours fall outside: those count as black. */
function sampleAtBorder(src: Uint8Array, w: number, h: number, stride: number, shift: number, x0: number, y0: number, fx: number, fy: number, dst: Uint8Array, o: number): void {
  const inX0 = x0 >= 0, inX1 = x0 + 1 < w, inY0 = y0 >= 0, inY1 = y0 + 1 < h;
  const w00 = inX0 && inY0 ? (1 - fx) * (1 - fy) : 0;
  const w01 = inX1 && inY0 ? fx * (1 - fy) : 0;
  const w10 = inX0 && inY1 ? (1 - fx) * fy : 0;
  const w11 = inX1 && inY1 ? fx * fy : 0;
  // Clamped offsets are only read where their weight is 0 or they are in range.
  const cx0 = Math.max(x0, 0) * 3 - shift, cx1 = Math.min(x0 + 1, w - 1) * 3 - shift;
  const cy0 = Math.max(y0, 0) * stride, cy1 = Math.min(y0 + 1, h - 1) * stride;
  for (let c = 0; c < 3; c++) {
    const v = src[cy0 + cx0 + c] * w00 + src[cy0 + cx1 + c] * w01 + src[cy1 + cx0 + c] * w10 + src[cy1 + cx1 + c] * w11;
    dst[o + c] = (v + 0.5) | 0;
  }
}

/** Landmarks may lie this far outside the crop (fraction of its shorter side): tight upstream crops cut chins. */
const LANDMARK_TOLERANCE = 0.05;
const MIN_EYE_DISTANCE = 2;

function checkLandmarks(img: { width: number; height: number }, landmarks: unknown): asserts landmarks is Landmarks5 {
  const bad = (why: string): never => {
    throw new GateError('INPUT_BAD_LANDMARKS', `landmarks rejected: ${why}`);
  };
  if (!Array.isArray(landmarks) || landmarks.length !== 5) bad('need exactly 5 points');
  const pts = landmarks as unknown[];
  const tol = LANDMARK_TOLERANCE * Math.min(img.width, img.height);
  for (const p of pts) {
    if (!Array.isArray(p) || p.length !== 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) bad('each point must be 2 finite numbers');
    const [x, y] = p as [number, number];
    if (x < -tol || y < -tol || x > img.width - 1 + tol || y > img.height - 1 + tol) {
      bad(`point (${x}, ${y}) is outside the ${img.width}x${img.height} crop`);
    }
  }
  if (eyeDistance(pts as Landmarks5) <= MIN_EYE_DISTANCE) bad(`eyes are ${MIN_EYE_DISTANCE} px or less apart`);
}

function eyeDistance(l: Landmarks5): number {
  return Math.hypot(l[1][0] - l[0][0], l[1][1] - l[0][1]);
}

/**
 * The part of a width×height crop that aligning these landmarks reads, for decoding only that;
 * undefined where they are bad (alignFace, on the whole image, then says why) or nothing is inside.
 */
export function alignWindow(landmarks: Landmarks5, width: number, height: number): Rect | undefined {
  try {
    checkLandmarks({ width, height }, landmarks);
  } catch {
    return undefined;
  }
  return sourceWindow(estimateSimilarity(landmarks, ARCFACE_TEMPLATE), width, height);
}

/**
 * Aligns the face given by 5 landmarks (crop pixels, ArcFace order) onto the 112×112 template.
 * Bad landmarks give INPUT_BAD_LANDMARKS.
 */
export function alignFace(
  img: RgbImage,
  landmarks: Landmarks5,
  source: { landmarkSource: AlignedFace['landmarkSource']; detectorScore?: number } = { landmarkSource: 'message' },
): AlignedFace {
  checkLandmarks(img, landmarks);
  const m = estimateSimilarity(landmarks, ARCFACE_TEMPLATE);
  const face: AlignedFace = {
    size: ALIGNED_SIZE,
    data: warpAffine(img, m, ALIGNED_SIZE),
    landmarkSource: source.landmarkSource,
    landmarks: landmarks.map(([x, y]) => [x, y]),
    eyeDistance: eyeDistance(landmarks),
  };
  if (source.detectorScore !== undefined) face.detectorScore = source.detectorScore;
  return face;
}

/** The mirror image of an aligned face; `landmarks` still describe the original crop. */
export function flipHorizontal(face: AlignedFace): AlignedFace {
  const { size, data } = face;
  const out = new Uint8Array(data.length);
  const row = size * 3;
  for (let y = 0; y < size; y++) {
    const r = y * row;
    for (let x = 0; x < size; x++) {
      const s = r + x * 3, d = r + (size - 1 - x) * 3;
      out[d] = data[s]; out[d + 1] = data[s + 1]; out[d + 2] = data[s + 2];
    }
  }
  return { ...face, data: out };
}

import { GateError } from '../../plugin/core/errors.js';

/**
 * Face-recognition and quality-assessment metrics (pure, no I/O), following the evaluation
 * protocol in shared/DIFFIQA.md: threshold at a fixed FMR, then the Error-versus-Discard
 * Characteristic (EDC) and its normalised partial area (pAUC).
 *
 * Conventions used everywhere here: a comparison is accepted (a "match") when
 * similarity >= threshold, so FMR = #(impostor >= t) / N and FNMR = #(genuine < t) / N.
 */

export type Scores = Float64Array | Float32Array | readonly number[];

/** A genuine (mated) comparison with the qualities of its two images. */
export interface GenuineComparison {
  similarity: number;
  qualityA: number;
  qualityB: number;
}

/** A step curve: FNMR is constant on [discard[i], discard[i+1]), the last step runs to 1. */
export interface EdcCurve {
  discard: number[];
  fnmr: number[];
}

function checkFinite(values: Scores, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new GateError('USAGE', `${what}[${i}] is not a finite number: ${values[i]}`, { details: { index: i } });
  }
}

function checkFraction(value: number, what: string, { allowOne }: { allowOne: boolean }): void {
  if (!(value >= 0 && (allowOne ? value <= 1 : value < 1))) {
    throw new GateError('USAGE', `${what} must be in [0, 1${allowOne ? ']' : ')'}, got ${value}`);
  }
}

/**
 * The largest count k with k / n <= fraction, compared exactly as float64 division does.
 * Plain floor(fraction * n) is wrong for e.g. 0.29 * 100 = 28.999999999999996.
 */
export function countAtMost(fraction: number, n: number): number {
  let k = Math.min(n, Math.floor(fraction * n));
  while (k < n && (k + 1) / n <= fraction) k++;
  while (k > 0 && k / n > fraction) k--;
  return k;
}

/** The smallest float64 strictly greater than x (x finite). */
export function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  buf.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return buf.getFloat64(0);
}

/**
 * The smallest float64 threshold t with #(impostor >= t) / N <= fmr.
 *
 * With impostors sorted descending s(1) >= s(2) >= ... and k = the largest count with k/N <= fmr,
 * t = nextUp(s(k+1)): every t' <= s(k+1) would accept at least k+1 impostors. Ties at s(k+1)
 * are all rejected, so with ties the achieved FMR can be below fmr (never above).
 * fmr >= 1 (k = N) gives -Infinity: everything is accepted.
 */
export function thresholdAtFmr(impostorScores: Scores, fmr: number): number {
  const n = impostorScores.length;
  if (n === 0) throw new GateError('USAGE', 'thresholdAtFmr needs at least one impostor score');
  checkFinite(impostorScores, 'impostorScores');
  checkFraction(fmr, 'fmr', { allowOne: true });
  const k = countAtMost(fmr, n);
  if (k === n) return -Infinity;
  const sorted = Float64Array.from(impostorScores).sort().reverse();
  return nextUp(sorted[k]);
}

/** Fraction of genuine comparisons rejected at `threshold` (similarity < threshold). */
export function fnmr(genuineScores: Scores, threshold: number): number {
  if (genuineScores.length === 0) throw new GateError('USAGE', 'fnmr needs at least one genuine score');
  checkFinite(genuineScores, 'genuineScores');
  let errors = 0;
  for (let i = 0; i < genuineScores.length; i++) if (genuineScores[i] < threshold) errors++;
  return errors / genuineScores.length;
}

/** Pair quality min(qA, qB): a comparison is only as good as its worse image. */
export function pairQuality(c: GenuineComparison): number {
  return Math.min(c.qualityA, c.qualityB);
}

/**
 * Genuine comparisons ordered by pair quality ascending; equal qualities keep input order
 * (lower index first), so results never depend on the sort implementation.
 * errorsFrom[k] counts the false non-matches left after discarding the first k of that order.
 */
function discardOrder(genuine: readonly GenuineComparison[], threshold: number): { quality: Float64Array; order: number[]; errorsFrom: Int32Array } {
  const n = genuine.length;
  if (n === 0) throw new GateError('USAGE', 'need at least one genuine comparison');
  checkFinite(genuine.map((c) => c.similarity), 'similarity');
  const quality = Float64Array.from(genuine, (c, i) => {
    const q = pairQuality(c);
    if (Number.isNaN(q)) throw new GateError('USAGE', `genuine[${i}] has a NaN quality`, { details: { index: i } });
    return q;
  });
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => quality[i] - quality[j] || i - j);
  const errorsFrom = new Int32Array(n + 1);
  for (let k = n - 1; k >= 0; k--) errorsFrom[k] = errorsFrom[k + 1] + (genuine[order[k]].similarity < threshold ? 1 : 0);
  return { quality, order, errorsFrom };
}

/**
 * Non-interpolated EDC. Genuine comparisons are discarded one at a time, lowest pair quality
 * first (ties: lower index first); after k discards FNMR is measured on the n - k left.
 *
 * Without `discardFractions` the full curve is returned: discard = k/n for k = 0..n-1.
 * With them, the step function is sampled: for each d in [0, 1) the point is k = the largest
 * count with k/n <= d, reported at discard d.
 */
export function edc(genuine: readonly GenuineComparison[], threshold: number, discardFractions?: readonly number[]): EdcCurve {
  const n = genuine.length;
  const { errorsFrom } = discardOrder(genuine, threshold);
  const at = (k: number): number => errorsFrom[k] / (n - k);
  if (!discardFractions) {
    const discard: number[] = [];
    const curve: number[] = [];
    for (let k = 0; k < n; k++) {
      discard.push(k / n);
      curve.push(at(k));
    }
    return { discard, fnmr: curve };
  }
  return {
    discard: [...discardFractions],
    fnmr: discardFractions.map((d) => {
      checkFraction(d, 'discard fraction', { allowOne: false });
      return at(countAtMost(d, n));
    }),
  };
}

/**
 * Normalised partial area under the EDC: ∫₀ˣ FNMR(d) dd / (x · FNMR(0)), integrating the step
 * function exactly. 1 means no better than random ordering; lower is better.
 * Returns NaN when FNMR(0) = 0: with no errors there is nothing for quality to remove.
 */
export function pauc(curve: EdcCurve, x: number): number {
  const { discard, fnmr: f } = curve;
  if (discard.length === 0 || discard.length !== f.length) throw new GateError('USAGE', 'EDC curve is empty or its arrays differ in length');
  if (discard[0] !== 0) throw new GateError('USAGE', `EDC curve must start at discard 0, starts at ${discard[0]}`);
  if (!(x > 0 && x <= 1)) throw new GateError('USAGE', `pAUC limit must be in (0, 1], got ${x}`);
  if (f[0] === 0) return NaN;
  let area = 0;
  for (let i = 0; i < discard.length && discard[i] < x; i++) {
    const end = i + 1 < discard.length ? discard[i + 1] : 1;
    if (!(end > discard[i])) throw new GateError('USAGE', 'EDC discard fractions must increase strictly');
    area += f[i] * (Math.min(end, x) - discard[i]);
  }
  return area / (x * f[0]);
}

/**
 * The set's floor (DIFFIQA.md): the EDC of an oracle that discards the failing genuine comparisons
 * (similarity < threshold) first. Discarding a fraction d removes at most d·n of the errors, so no
 * quality score does better; with FNMR(0) high the floor itself is near 1.
 */
export function floorEdc(similarities: Scores, threshold: number, discardFractions?: readonly number[]): EdcCurve {
  const oracle = Array.from(similarities, (similarity) => {
    const q = similarity < threshold ? 0 : 1;
    return { similarity, qualityA: q, qualityB: q };
  });
  return edc(oracle, threshold, discardFractions);
}

function checkPair(a: Scores, b: Scores): void {
  if (a.length !== b.length) throw new GateError('USAGE', `correlation needs equal lengths, got ${a.length} and ${b.length}`);
  checkFinite(a, 'a');
  checkFinite(b, 'b');
}

/** Pearson correlation; NaN when fewer than 2 values or either side is constant. */
export function pearson(a: Scores, b: Scores): number {
  checkPair(a, b);
  const n = a.length;
  if (n < 2) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa === 0 || sbb === 0) return NaN;
  return sab / Math.sqrt(saa * sbb);
}

/** 1-based ranks; tied values share the average of the ranks they span. */
export function averageRanks(values: Scores): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((i, j) => values[i] - values[j]);
  const ranks = new Float64Array(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const rank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) ranks[order[i]] = rank;
    start = end;
  }
  return ranks;
}

/** Spearman rank correlation: Pearson on average ranks (the tie-corrected form). */
export function spearman(a: Scores, b: Scores): number {
  checkPair(a, b);
  return pearson(averageRanks(a), averageRanks(b));
}

export interface CalibrateOptions {
  /** Fraction of frames to reject outright. Exactly one of targetDiscard / targetFnmr. */
  targetDiscard?: number;
  /** Reject just enough that FNMR on the kept genuine comparisons is <= fnmr. */
  targetFnmr?: { fnmr: number; genuine: readonly GenuineComparison[]; threshold: number };
  /** Fraction of frames to send to the slow full model: the band [reject, accept). */
  escalationBudget?: number;
}

export interface Calibration {
  accept: number;
  reject: number;
  /** Fractions of the calibration frames that these thresholds reject / mark borderline. */
  expectedDiscard: number;
  expectedBorderline: number;
  /** With targetFnmr: FNMR on the genuine comparisons that survive, and how many were dropped. */
  expectedFnmr?: number;
  expectedPairDiscard?: number;
}

/**
 * Thresholds for the gate, which rejects q < reject, escalates reject <= q < accept as
 * borderline and accepts q >= accept.
 *
 * With frame scores sorted ascending s[0..n-1]:
 * - targetDiscard d: reject = s[k], k = the largest count with k/n <= d. At most k frames lie
 *   below it (fewer when s[k] is tied with lower scores): the discard never exceeds d.
 * - targetFnmr X: over the genuine comparisons (pair quality min(qA, qB)), the lowest quality
 *   value r such that FNMR among comparisons with pair quality >= r is <= X. Candidates are
 *   whole tie groups, since a threshold cannot split equal qualities. Throws when even the best
 *   group misses X.
 * - escalationBudget b: accept = s[k + m], k = #(s < reject), m = the largest count with
 *   m/n <= b, so about b of the frames fall in the band. Without b (or when b·n < 1), accept = reject.
 */
export function calibrate(scores: Scores, opts: CalibrateOptions): Calibration {
  const n = scores.length;
  if (n === 0) throw new GateError('USAGE', 'calibrate needs at least one quality score');
  checkFinite(scores, 'scores');
  if ((opts.targetDiscard === undefined) === (opts.targetFnmr === undefined)) {
    throw new GateError('USAGE', 'calibrate needs exactly one of targetDiscard and targetFnmr');
  }
  const sorted = Float64Array.from(scores).sort();
  const below = (t: number): number => {
    let k = 0;
    while (k < n && sorted[k] < t) k++;
    return k;
  };

  let reject: number;
  const fnmrPart: Pick<Calibration, 'expectedFnmr' | 'expectedPairDiscard'> = {};
  if (opts.targetDiscard !== undefined) {
    checkFraction(opts.targetDiscard, 'targetDiscard', { allowOne: false });
    reject = sorted[countAtMost(opts.targetDiscard, n)];
  } else {
    const { fnmr: target, genuine, threshold } = opts.targetFnmr!;
    checkFraction(target, 'targetFnmr', { allowOne: true });
    const { quality, order, errorsFrom } = discardOrder(genuine, threshold);
    const m = genuine.length;
    let found = -1;
    let best = Infinity;
    for (let k = 0; k < m; k++) {
      if (k > 0 && quality[order[k]] === quality[order[k - 1]]) continue;
      const f = errorsFrom[k] / (m - k);
      best = Math.min(best, f);
      if (f <= target) {
        found = k;
        break;
      }
    }
    if (found < 0) throw new GateError('USAGE', `no quality threshold reaches FNMR <= ${target}; the best is ${best}`, { details: { bestFnmr: best } });
    reject = quality[order[found]];
    fnmrPart.expectedFnmr = errorsFrom[found] / (m - found);
    fnmrPart.expectedPairDiscard = found / m;
  }

  const rejected = below(reject);
  let accept = reject;
  const budget = opts.escalationBudget ?? 0;
  checkFraction(budget, 'escalationBudget', { allowOne: false });
  const band = countAtMost(budget, n);
  if (band > 0) {
    if (rejected + band >= n) throw new GateError('USAGE', 'discard plus escalation budget leaves no frame to accept', { details: { rejected, band, n } });
    accept = sorted[rejected + band];
  }
  return {
    accept,
    reject,
    expectedDiscard: rejected / n,
    expectedBorderline: (below(accept) - rejected) / n,
    ...fnmrPart,
  };
}

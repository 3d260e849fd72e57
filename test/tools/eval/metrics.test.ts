import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/plugin/core/random.js';
import { GateError } from '../../../src/plugin/core/errors.js';
import {
  averageRanks, calibrate, countAtMost, edc, floorEdc, fnmr, nextUp, pauc, pearson, spearman, thresholdAtFmr,
  type GenuineComparison,
} from '../../../src/tools/eval/metrics.js';

const fmrAt = (impostors: number[], t: number): number => impostors.filter((s) => s >= t).length / impostors.length;

function expectUsage(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GateError);
    expect((err as GateError).code).toBe('USAGE');
    return;
  }
  throw new Error('expected a GateError USAGE');
}

// Threshold 0.5. Pair quality = min(qA, qB):
//   p0 sim 0.3 (error) q = min(0.2, 0.9) = 0.2
//   p1 sim 0.8         q = min(0.6, 0.7) = 0.6
//   p2 sim 0.4 (error) q = min(0.5, 0.4) = 0.4
//   p3 sim 0.9         q = min(0.8, 0.95) = 0.8
// Discard order p0, p2, p1, p3 → FNMR after k discards: 2/4, 1/3, 0/2, 0/1.
const FOUR: GenuineComparison[] = [
  { similarity: 0.3, qualityA: 0.2, qualityB: 0.9 },
  { similarity: 0.8, qualityA: 0.6, qualityB: 0.7 },
  { similarity: 0.4, qualityA: 0.5, qualityB: 0.4 },
  { similarity: 0.9, qualityA: 0.8, qualityB: 0.95 },
];

/** Synthetic genuine comparisons: errorRate of them below threshold 0.5, quality from `quality`. */
function synthetic(n: number, errorRate: number, seed: string, quality: (isError: boolean, u: number) => number): GenuineComparison[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const isError = rng.uniform() < errorRate;
    const similarity = isError ? 0.5 * rng.uniform() : 0.5 + 0.5 * rng.uniform();
    const qa = quality(isError, rng.uniform());
    const qb = quality(isError, rng.uniform());
    return { similarity, qualityA: qa, qualityB: qb };
  });
}

describe('countAtMost', () => {
  it('countAtMost should not lose a count to float rounding', () => {
    // 0.29 * 100 = 28.999999999999996 in float64, yet 29/100 <= 0.29.
    expect(countAtMost(0.29, 100)).toBe(29);
    expect(countAtMost(1e-3, 3000)).toBe(3);
    expect(countAtMost(1e-3, 999)).toBe(0);
    expect(countAtMost(1, 7)).toBe(7);
  });
});

describe('nextUp', () => {
  it('nextUp should return the adjacent larger double', () => {
    expect(nextUp(1)).toBe(1 + Number.EPSILON);
    expect(nextUp(0)).toBe(Number.MIN_VALUE);
    for (const x of [0.7, -0.7, 123.456, -Number.MIN_VALUE]) {
      const y = nextUp(x);
      expect(y).toBeGreaterThan(x);
      // No double lies strictly between x and y: the midpoint rounds onto one of them.
      expect([x, y]).toContain((x + y) / 2);
    }
  });
});

describe('thresholdAtFmr', () => {
  it('thresholdAtFmr should give the smallest threshold whose FMR is within the target', () => {
    const impostors = [0.1, 0.5, 0.3, 0.9, 0.7];
    // fmr 0.2 of 5 → at most 1 impostor accepted; the 2nd highest (0.7) must be rejected.
    const t = thresholdAtFmr(impostors, 0.2);
    expect(t).toBe(nextUp(0.7));
    expect(fmrAt(impostors, t)).toBe(0.2);
    expect(fmrAt(impostors, 0.7)).toBe(0.4);
  });

  it('thresholdAtFmr should reject a whole tie group rather than exceed the FMR', () => {
    const impostors = [0.5, 0.5, 0.5, 0.1];
    // fmr 0.25 allows 1 accept, but 0.5 is shared by 3: all three go, FMR 0 <= 0.25.
    const t = thresholdAtFmr(impostors, 0.25);
    expect(t).toBeGreaterThan(0.5);
    expect(fmrAt(impostors, t)).toBe(0);
  });

  it('thresholdAtFmr should handle the fmr extremes', () => {
    expect(thresholdAtFmr([0.2, 0.8], 0)).toBe(nextUp(0.8));
    expect(thresholdAtFmr([0.2, 0.8], 1)).toBe(-Infinity);
    expect(thresholdAtFmr(new Float64Array([0.2, 0.8]), 0.5)).toBe(nextUp(0.2));
  });

  it('thresholdAtFmr should keep FMR <= target on random data', () => {
    const rng = createRng('fmr-property');
    for (let trial = 0; trial < 20; trial++) {
      // Coarse values so ties happen.
      const impostors = Array.from({ length: 1 + rng.int(400) }, () => Math.round(rng.normal() * 20) / 20);
      const target = rng.uniform() * 0.1;
      const t = thresholdAtFmr(impostors, target);
      expect(fmrAt(impostors, t)).toBeLessThanOrEqual(target);
      // Minimal: the largest score below t, used as threshold, would exceed the target.
      const below = impostors.filter((s) => s < t);
      if (below.length > 0) expect(fmrAt(impostors, Math.max(...below))).toBeGreaterThan(target);
    }
  });

  it('thresholdAtFmr should refuse empty or non-finite input', () => {
    expectUsage(() => thresholdAtFmr([], 0.1));
    expectUsage(() => thresholdAtFmr([0.1, NaN], 0.1));
    expectUsage(() => thresholdAtFmr([0.1], 1.5));
  });
});

describe('fnmr', () => {
  it('fnmr should count similarities strictly below the threshold', () => {
    expect(fnmr([0.2, 0.4, 0.6, 0.8], 0.5)).toBe(0.5);
    // 0.4 is not < 0.4: accepted.
    expect(fnmr([0.2, 0.4, 0.6, 0.8], 0.4)).toBe(0.25);
  });
});

describe('edc', () => {
  it('edc should discard lowest pair quality first', () => {
    const curve = edc(FOUR, 0.5);
    expect(curve.discard).toEqual([0, 0.25, 0.5, 0.75]);
    expect(curve.fnmr).toEqual([2 / 4, 1 / 3, 0, 0]);
  });

  it('edc should sample the step function at given discard fractions', () => {
    // k = largest count with k/4 <= d: 0, 0, 1, 1, 2.
    const curve = edc(FOUR, 0.5, [0, 0.2, 0.25, 0.3, 0.5]);
    expect(curve.discard).toEqual([0, 0.2, 0.25, 0.3, 0.5]);
    expect(curve.fnmr).toEqual([0.5, 0.5, 1 / 3, 1 / 3, 0]);
    expectUsage(() => edc(FOUR, 0.5, [1]));
  });

  it('edc should break quality ties by input index', () => {
    const err = { similarity: 0.1, qualityA: 0.5, qualityB: 0.5 };
    const ok = { similarity: 0.9, qualityA: 0.5, qualityB: 0.5 };
    const best = { similarity: 0.9, qualityA: 0.7, qualityB: 0.7 };
    // ok first: discarding it leaves the error → 1/2. err first: discarding it → 0/2.
    expect(edc([ok, err, best], 0.5).fnmr).toEqual([1 / 3, 1 / 2, 0]);
    expect(edc([err, ok, best], 0.5).fnmr).toEqual([1 / 3, 0, 0]);
  });

  it('edc should match a direct recomputation on random data', () => {
    const rng = createRng('edc-oracle');
    for (let trial = 0; trial < 10; trial++) {
      const pairs = synthetic(1 + rng.int(60), 0.3, `edc-${trial}`, (_e, u) => Math.round(u * 5));
      const curve = edc(pairs, 0.5);
      const sorted = pairs.map((p, i) => ({ p, i })).sort((x, y) => Math.min(x.p.qualityA, x.p.qualityB) - Math.min(y.p.qualityA, y.p.qualityB) || x.i - y.i);
      for (let k = 0; k < pairs.length; k++) {
        expect(curve.fnmr[k]).toBeCloseTo(fnmr(sorted.slice(k).map((x) => x.p.similarity), 0.5), 12);
      }
    }
  });
});

describe('pauc', () => {
  it('pauc should integrate the step curve exactly', () => {
    const curve = edc(FOUR, 0.5);
    // x = 0.2: only the first step (0.5 on [0, 0.25)) → 0.5·0.2 / (0.2·0.5) = 1.
    expect(pauc(curve, 0.2)).toBeCloseTo(1, 12);
    // x = 0.3: 0.5·0.25 + (1/3)·0.05 = 17/120; / (0.3·0.5) = 17/18.
    expect(pauc(curve, 0.3)).toBeCloseTo(17 / 18, 12);
    // x = 0.5: 0.125 + (1/3)·0.25 = 5/24; / 0.25 = 5/6.
    expect(pauc(curve, 0.5)).toBeCloseTo(5 / 6, 12);
    // x = 1: the zero steps add nothing: (5/24) / 0.5 = 5/12.
    expect(pauc(curve, 1)).toBeCloseTo(5 / 12, 12);
  });

  it('pauc should be NaN when there is no error at zero discard', () => {
    const noErrors = FOUR.map((p) => ({ ...p, similarity: 0.9 }));
    expect(pauc(edc(noErrors, 0.5), 0.3)).toBeNaN();
  });

  it('pauc should be below 1 when quality puts errors first and above 1 when last', () => {
    const errorsFirst = synthetic(2000, 0.1, 'order', (isError, u) => (isError ? u : 1 + u));
    const errorsLast = synthetic(2000, 0.1, 'order', (isError, u) => (isError ? 1 + u : u));
    const good = pauc(edc(errorsFirst, 0.5), 0.2);
    const bad = pauc(edc(errorsLast, 0.5), 0.2);
    expect(good).toBeLessThan(1);
    expect(bad).toBeGreaterThan(1);
  });

  it('pauc should be near 1 for a random quality on large data', () => {
    const pairs = synthetic(20_000, 0.1, 'random-quality', (_e, u) => u);
    const curve = edc(pairs, 0.5);
    expect(pauc(curve, 0.2)).toBeGreaterThan(0.97);
    expect(pauc(curve, 0.2)).toBeLessThan(1.03);
    expect(pauc(curve, 0.3)).toBeGreaterThan(0.97);
    expect(pauc(curve, 0.3)).toBeLessThan(1.03);
  });

  it('pauc should stay within [0, -ln(1-x)/x] for any quality', () => {
    // FNMR after discarding d can at most grow to FNMR(0)/(1-d), which bounds the area.
    const rng = createRng('pauc-bounds');
    for (let trial = 0; trial < 30; trial++) {
      const pairs = synthetic(5 + rng.int(200), 0.2 + 0.5 * rng.uniform(), `b-${trial}`, (isError, u) => (isError && trial % 2 ? 1 + u : u));
      const curve = edc(pairs, 0.5);
      for (const x of [0.2, 0.3, 0.9]) {
        const v = pauc(curve, x);
        if (Number.isNaN(v)) continue;
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(-Math.log(1 - x) / x + 1e-12);
      }
    }
  });

  it('pauc should refuse malformed curves', () => {
    expectUsage(() => pauc({ discard: [0.1], fnmr: [0.5] }, 0.2));
    expectUsage(() => pauc({ discard: [0, 0], fnmr: [0.5, 0.5] }, 0.2));
    expectUsage(() => pauc({ discard: [0], fnmr: [0.5] }, 0));
  });
});

describe('correlation', () => {
  it('averageRanks should share ranks between ties', () => {
    expect(Array.from(averageRanks([10, 20, 10, 30]))).toEqual([1.5, 3, 1.5, 4]);
  });

  it('pearson should match a hand computation', () => {
    // da = [-1,0,1], db = [-7/3,-1/3,8/3]: sab = 5, saa = 2, sbb = 114/9.
    expect(pearson([1, 2, 3], [2, 4, 7])).toBeCloseTo(5 / Math.sqrt(2 * 114 / 9), 12);
    expect(pearson([1, 2, 3], [5, 5, 5])).toBeNaN();
    expect(pearson([1], [2])).toBeNaN();
    expectUsage(() => pearson([1, 2], [1]));
  });

  it('spearman should use average ranks for ties', () => {
    // ranks of b = [1, 2, 3.5, 5, 3.5]: sab = 8, saa = 10, sbb = 9.5.
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(8 / Math.sqrt(95), 12);
    // Monotone but not linear: rank correlation is exactly 1.
    expect(spearman([1, 2, 3, 4], [1, 10, 100, 1000])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
  });
});

describe('calibrate', () => {
  const TEN = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 1.0, 0.4, 0.8, 0.6];

  it('calibrate should put reject at the discard quantile and accept after the budget', () => {
    // Sorted 0.1..1.0: k = 2 → reject 0.3 (0.1, 0.2 below); m = 3 → accept = sorted[5] = 0.6.
    const c = calibrate(TEN, { targetDiscard: 0.2, escalationBudget: 0.3 });
    expect(c).toEqual({ reject: 0.3, accept: 0.6, expectedDiscard: 0.2, expectedBorderline: 0.3 });
  });

  it('calibrate should make accept equal reject without a budget', () => {
    const c = calibrate(TEN, { targetDiscard: 0.35 });
    // k = 3 → reject 0.4.
    expect(c).toEqual({ reject: 0.4, accept: 0.4, expectedDiscard: 0.3, expectedBorderline: 0 });
  });

  it('calibrate should never discard more than the target when scores tie', () => {
    // sorted[2] = 1 is tied with sorted[0..1]: rejecting below 1 rejects nothing.
    const c = calibrate([1, 1, 1, 1, 2, 3, 4, 5, 6, 7], { targetDiscard: 0.2 });
    expect(c.reject).toBe(1);
    expect(c.expectedDiscard).toBe(0);
  });

  it('calibrate should find the smallest discard meeting a target FNMR', () => {
    // FOUR: pair qualities 0.2 (err), 0.4 (err), 0.6, 0.8. Frame scores are its 8 image qualities,
    // sorted 0.2 0.4 0.5 0.6 0.7 0.8 0.9 0.95.
    const frames = [0.2, 0.9, 0.6, 0.7, 0.5, 0.4, 0.8, 0.95];
    // Target 0.4: keeping q >= 0.2 gives 2/4; q >= 0.4 gives 1/3 <= 0.4 → reject 0.4.
    // Frames below 0.4: one. Budget 0.25 → m = 2 → accept = sorted[3] = 0.6, band {0.4, 0.5}.
    const c = calibrate(frames, { targetFnmr: { fnmr: 0.4, genuine: FOUR, threshold: 0.5 }, escalationBudget: 0.25 });
    expect(c).toEqual({ reject: 0.4, accept: 0.6, expectedDiscard: 1 / 8, expectedBorderline: 2 / 8, expectedFnmr: 1 / 3, expectedPairDiscard: 0.25 });
    // Target 0: both errors must go → reject 0.6, half the pairs dropped.
    const z = calibrate(frames, { targetFnmr: { fnmr: 0, genuine: FOUR, threshold: 0.5 } });
    expect(z).toMatchObject({ reject: 0.6, expectedFnmr: 0, expectedPairDiscard: 0.5, expectedDiscard: 3 / 8 });
  });

  it('calibrate should move past a whole tie group for a target FNMR', () => {
    const genuine = [
      { similarity: 0.1, qualityA: 0.5, qualityB: 0.5 },
      { similarity: 0.9, qualityA: 0.5, qualityB: 0.5 },
      { similarity: 0.9, qualityA: 0.7, qualityB: 0.7 },
    ];
    // The EDC reaches 0 after one discard, but no threshold separates the two 0.5 pairs:
    // the first reachable FNMR <= 0.3 is at reject 0.7.
    const c = calibrate([0.5, 0.7], { targetFnmr: { fnmr: 0.3, genuine, threshold: 0.5 } });
    expect(c).toMatchObject({ reject: 0.7, expectedFnmr: 0, expectedPairDiscard: 2 / 3 });
  });

  it('calibrate should refuse impossible or ambiguous requests', () => {
    const allBad = FOUR.map((p) => ({ ...p, similarity: 0.1 }));
    expectUsage(() => calibrate(TEN, { targetFnmr: { fnmr: 0.5, genuine: allBad, threshold: 0.5 } }));
    expectUsage(() => calibrate(TEN, {}));
    expectUsage(() => calibrate(TEN, { targetDiscard: 0.1, targetFnmr: { fnmr: 0.5, genuine: FOUR, threshold: 0.5 } }));
    expectUsage(() => calibrate(TEN, { targetDiscard: 0.5, escalationBudget: 0.5 }));
    expectUsage(() => calibrate([], { targetDiscard: 0.1 }));
  });
});

describe('floorEdc', () => {
  it('floorEdc should discard the failing genuine pairs first, whatever their position', () => {
    // Ten genuine pairs at threshold 0.5, three below it (positions 1, 5, 8).
    const sims = [0.9, 0.1, 0.8, 0.7, 0.6, 0.45, 0.95, 0.55, 0.2, 0.99];
    const curve = floorEdc(sims, 0.5);
    // After k discards (k ≤ 3) the errors left are 3 − k of 10 − k comparisons.
    expect(curve.fnmr.slice(0, 5)).toEqual([3 / 10, 2 / 9, 1 / 8, 0, 0]);
    // pAUC@0.2 by hand: steps of width 0.1 at 3/10, 2/9, then nothing; over 0.2 · 3/10.
    expect(pauc(curve, 0.2)).toBeCloseTo((0.1 * (3 / 10) + 0.1 * (2 / 9)) / (0.2 * 0.3), 12);
    expect(pauc(curve, 0.3)).toBeCloseTo((0.1 * (3 / 10) + 0.1 * (2 / 9) + 0.1 * (1 / 8)) / (0.3 * 0.3), 12);
  });

  it('floorEdc should be at or below the EDC of any quality order', () => {
    const rng = createRng('floor');
    const sims = Array.from({ length: 300 }, () => rng.uniform());
    const floor = pauc(floorEdc(sims, 0.3), 0.2);
    for (let trial = 0; trial < 20; trial++) {
      const genuine = sims.map((similarity) => ({ similarity, qualityA: rng.uniform(), qualityB: rng.uniform() }));
      expect(floor).toBeLessThanOrEqual(pauc(edc(genuine, 0.3), 0.2));
    }
    // Everything fails: no order can remove errors faster than one per discard, the floor is 1.
    expect(pauc(floorEdc([0.1, 0.2, 0.1, 0.05], 0.5), 0.2)).toBe(1);
  });
});

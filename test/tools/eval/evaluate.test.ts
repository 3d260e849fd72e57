import { describe, expect, it } from 'vitest';
import { DISCARD_GRID, edcSummary, genuineFor, type EvalData } from '../../../src/tools/eval/evaluate.js';
import { GateError } from '../../../src/plugin/core/errors.js';

/**
 * Six genuine pairs at threshold 0.5; pairs 0 and 1 are the false non-matches.
 * 'aligned' gives their images the lowest qualities, 'reversed' the highest.
 */
function data(): EvalData {
  const sims = [0.2, 0.4, 0.6, 0.7, 0.8, 0.9];
  const genuine = sims.map((similarity, i) => ({ a: `p${i}a`, b: `p${i}b`, similarity }));
  const aligned = new Map<string, number>();
  const reversed = new Map<string, number>();
  sims.forEach((s, i) => {
    // The b image is the worse one in 'aligned', so the pair quality is min = s.
    aligned.set(`p${i}a`, s + 1).set(`p${i}b`, s);
    reversed.set(`p${i}a`, -s).set(`p${i}b`, 5);
  });
  return {
    threshold: 0.5, fnmr0: 2 / 6, genuine,
    scorers: [{ id: 'aligned', key: 'aligned@1' }, { id: 'reversed', key: 'reversed@1' }],
    quality: { aligned, reversed },
  } as unknown as EvalData;
}

describe('genuineFor', () => {
  it('genuineFor should attach the scorer\'s quality of each image of each pair', () => {
    const g = genuineFor(data(), 'aligned');
    expect(g[1]).toEqual({ similarity: 0.4, qualityA: 1.4, qualityB: 0.4 });
    expect(() => genuineFor(data(), 'other')).toThrow(GateError);
  });
});

describe('edcSummary', () => {
  it('edcSummary should give pAUC well below 1 when low quality marks the errors, and above it when reversed', () => {
    const [aligned, reversed] = edcSummary(data());
    // Aligned: discarding 1/6 leaves 1/5 errors, 2/6 leaves none; pAUC@0.2 = (1/6·1/3 + (0.2−1/6)·1/5)/(0.2·1/3).
    expect(aligned.pauc02).toBeCloseTo((1 / 18 + (0.2 - 1 / 6) / 5) / (0.2 / 3), 12);
    expect(aligned.pauc03).toBeLessThan(aligned.pauc02);
    expect(reversed.pauc02).toBeGreaterThan(1);
  });

  it('edcSummary should sample the curve on DISCARD_GRID, starting at FNMR(0)', () => {
    const [aligned] = edcSummary(data());
    expect(aligned.curve.discard).toEqual(DISCARD_GRID);
    expect(aligned.curve.fnmr[0]).toBeCloseTo(2 / 6, 12);
    expect(aligned.curve.fnmr[aligned.curve.fnmr.length - 1]).toBe(0);
    expect(DISCARD_GRID.every((d, i) => i === 0 || d > DISCARD_GRID[i - 1])).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { CanaryComparison, CanaryMonitor } from '../../../src/plugin/drift/canary.js';

const models = { regressor: 'reg', candidate: 'cand' };
const bounds = { windowSize: 10, medianShift: 0.1, acceptRateShift: 0.5, rearmFraction: 0.5 };

/** `n` faces the regressor scores 0.7 (accepted) and the candidate `0.7 + shift` (accepted above 0.6). */
function feed(c: CanaryComparison, m: CanaryMonitor, n: number, shift: number) {
  const events = [];
  for (let i = 0; i < n; i++) {
    const candidate = 0.7 + shift;
    c.add({ cameraId: 'cam', regressor: 0.7, candidate, regressorAccepted: true, candidateAccepted: candidate >= 0.6, agree: candidate >= 0.6 });
    const e = m.check(c.summary(), i);
    if (e) events.push(e);
  }
  return events;
}

describe('CanaryMonitor', () => {
  it('check should judge only a full window, and raise one diverged event however long the candidate stays off', () => {
    const c = new CanaryComparison(bounds.windowSize);
    const m = new CanaryMonitor(bounds, models);
    expect(feed(c, m, 9, -0.3)).toEqual([]);
    const [diverged, ...rest] = feed(c, m, 30, -0.3);
    expect(rest).toEqual([]);
    expect(diverged).toMatchObject({ type: 'diverged', regressor: 'reg', candidate: 'cand', reasons: ['median', 'acceptRate'] });
    expect(diverged.summary.medianShift).toBeCloseTo(-0.3, 9);
    expect(m.diverged).toBe(true);
  });

  it('check should report converged only once the shifts are back within rearmFraction of the bounds', () => {
    const c = new CanaryComparison(bounds.windowSize);
    const m = new CanaryMonitor(bounds, models);
    feed(c, m, 10, 0.2);
    // 0.08 is inside the bound (0.1) but outside half of it: still diverged.
    expect(feed(c, m, 20, 0.08)).toEqual([]);
    const events = feed(c, m, 20, 0.02);
    expect(events.map((e) => [e.type, e.reasons])).toEqual([['converged', []]]);
    expect(m.diverged).toBe(false);
  });
});

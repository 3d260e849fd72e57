import { describe, expect, it } from 'vitest';
import { DriftMonitor, median, type DriftOptions } from '../../../src/plugin/drift/monitor.js';

const opts: DriftOptions = { baselineSize: 50, windowSize: 20, medianShift: 0.1, acceptRateShift: 0.2, rearmFraction: 0.5, maxCameras: 100 };

/** Deterministic scores spread around `centre` (±0.04), accepted above `accept`. */
function feed(m: DriftMonitor, cam: string, n: number, centre: number, accept = 0.6) {
  const events = [];
  for (let i = 0; i < n; i++) {
    const score = centre + (((i * 37) % 9) - 4) / 100;
    const e = m.observe(cam, score, score >= accept, i);
    if (e) events.push(e);
  }
  return events;
}

describe('median', () => {
  it('median should take the middle value or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('DriftMonitor', () => {
  it('observe should stay quiet while scores stay near the baseline', () => {
    const m = new DriftMonitor(opts);
    expect(feed(m, 'cam', 500, 0.7)).toEqual([]);
    expect(m.drifting()).toEqual([]);
  });

  it('observe should raise exactly one drift event when the median drops, naming the median', () => {
    const m = new DriftMonitor(opts);
    expect(feed(m, 'cam', 50, 0.7)).toEqual([]);
    const events = feed(m, 'cam', 200, 0.45);
    expect(events).toHaveLength(1);
    const [e] = events;
    expect(e.type).toBe('drift');
    expect(e.cameraId).toBe('cam');
    expect(e.reasons).toContain('median');
    expect(e.baseline.median).toBeCloseTo(0.7, 1);
    expect(e.recent.median).toBeLessThan(e.baseline.median - 0.1);
    expect(e.medianShift).toBeCloseTo(e.recent.median - e.baseline.median, 10);
    expect(m.drifting()).toEqual(['cam']);
  });

  it('observe should not alert before the recent window is full', () => {
    const m = new DriftMonitor(opts);
    feed(m, 'cam', 50, 0.7);
    // 19 low scores: the window (20) is not full yet.
    expect(feed(m, 'cam', opts.windowSize - 1, 0.3)).toEqual([]);
    expect(feed(m, 'cam', 1, 0.3)).toHaveLength(1);
  });

  it('observe should alert on the accept rate even when the median stays inside its bound', () => {
    const m = new DriftMonitor({ ...opts, medianShift: 1 });
    feed(m, 'cam', 50, 0.7, 0.6);
    // Same scores, but a stricter accept rule downstream: accept rate collapses.
    const events = feed(m, 'cam', 40, 0.7, 0.8);
    expect(events).toHaveLength(1);
    expect(events[0].reasons).toEqual(['acceptRate']);
    expect(events[0].acceptRateShift).toBeLessThan(-0.2);
  });

  it('observe should re-arm after recovery and alert again on a second drift', () => {
    const m = new DriftMonitor(opts);
    feed(m, 'cam', 50, 0.7);
    const first = feed(m, 'cam', 40, 0.4);
    const back = feed(m, 'cam', 40, 0.7);
    const second = feed(m, 'cam', 40, 0.4);
    expect(first.map((e) => e.type)).toEqual(['drift']);
    expect(back.map((e) => e.type)).toEqual(['recovered']);
    expect(back[0].reasons).toEqual([]);
    expect(second.map((e) => e.type)).toEqual(['drift']);
  });

  it('observe should not recover while the shift is still beyond the re-arm fraction', () => {
    const m = new DriftMonitor(opts);
    feed(m, 'cam', 50, 0.7);
    feed(m, 'cam', 40, 0.4);
    // 0.07 below baseline: inside the bound (0.1) but outside 0.5 × bound.
    expect(feed(m, 'cam', 60, 0.63)).toEqual([]);
    expect(m.drifting()).toEqual(['cam']);
  });

  it('observe should judge each camera against its own baseline', () => {
    const m = new DriftMonitor(opts);
    feed(m, 'bright', 50, 0.8);
    feed(m, 'dim', 50, 0.4);
    expect(feed(m, 'dim', 100, 0.4)).toEqual([]);
    expect(feed(m, 'bright', 100, 0.4)).toHaveLength(1);
    expect(m.drifting()).toEqual(['bright']);
  });

  it('observe should ignore non-finite scores', () => {
    const m = new DriftMonitor({ ...opts, baselineSize: 1, windowSize: 1 });
    expect(m.observe('cam', NaN, false)).toBeUndefined();
    m.observe('cam', 0.7, true);
    expect(m.observe('cam', Infinity, true)).toBeUndefined();
    expect(m.observe('cam', 0.2, false)?.type).toBe('drift');
  });

  it('observe should forget the least recently seen camera beyond maxCameras', () => {
    const m = new DriftMonitor({ ...opts, maxCameras: 2 });
    m.observe('a', 0.5, true);
    m.observe('b', 0.5, true);
    m.observe('a', 0.5, true);
    m.observe('c', 0.5, true);
    expect(m.cameraCount).toBe(2);
    // 'b' was forgotten: it starts a new baseline, so 49 more scores do not complete it.
    for (let i = 0; i < 49; i++) m.observe('b', 0.5, true);
    expect(feed(m, 'b', 20, 0.1)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { median, percentile, repeatPer, summarise } from '../../../src/tools/bench/stats.js';

describe('stats', () => {
  it('median should take the middle value, or the mean of the two middle ones, without sorting the input in place', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 4, 2, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('percentile should return an observed value by nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7, 3], 0)).toBe(3);
    expect(percentile([], 50)).toBeNaN();
  });

  it('repeatPer should time each repeat and divide by the items per call', async () => {
    let calls = 0;
    const r = await repeatPer(3, 4, async () => { calls++; await new Promise((res) => setTimeout(res, 20)); });
    expect(calls).toBe(3);
    expect(r.wallMs).toHaveLength(3);
    for (const ms of r.wallMs) expect(ms).toBeGreaterThanOrEqual(4); // ≥ 20 ms / 4 items, timers never fire early by more than 1 ms
    const s = summarise(r);
    expect(s.msPerImage).toBe(median(r.wallMs));
    expect(s.cpuMsPerImage).toBe(median(r.cpuMs));
  });
});

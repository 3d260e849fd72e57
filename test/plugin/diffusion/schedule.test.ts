import { describe, expect, it } from 'vitest';
import { cosineBetas, cosineSchedule, ddimSteps, ddimTimePairs, TIMESTEPS } from '../../../src/plugin/diffusion/schedule.js';

describe('cosineSchedule', () => {
  it('cosineSchedule should give ᾱ₅ ≈ 0.99967945 and a decreasing ᾱ over T steps', () => {
    const { alphasCumprod: ac, f32 } = cosineSchedule();
    expect(ac).toHaveLength(TIMESTEPS);
    // 0.99967945 is the float32 value the reference stores; float64 is 0.999679470…
    expect(f32.alphasCumprod[5]).toBe(Math.fround(ac[5]));
    expect(Math.abs(f32.alphasCumprod[5] - 0.99967945)).toBeLessThan(1e-8);
    expect(Math.abs(ac[5] - 0.99967945)).toBeLessThan(3e-8);
    for (let t = 1; t < TIMESTEPS; t++) expect(ac[t]).toBeLessThan(ac[t - 1]);
    // Without clipping, ᾱ_t is the ratio f(t+1)/f(0); clipping at 0.999 only bites at the very end.
    const f = (t: number) => Math.cos(((t / TIMESTEPS + 0.008) / 1.008) * Math.PI / 2) ** 2;
    expect(ac[100]).toBeCloseTo(f(101) / f(0), 12);
    expect(ac[TIMESTEPS - 1]).toBeGreaterThan(0);
  });

  it('cosineBetas should clip betas to [0, 0.999]', () => {
    const b = cosineBetas();
    expect(Math.max(...b)).toBe(0.999);
    expect(Math.min(...b)).toBeGreaterThan(0);
  });

  it('cosineSchedule should derive each float32 buffer from float64 and round once', () => {
    const { alphasCumprod: ac, f32 } = cosineSchedule();
    expect(f32.sqrtRecipm1AlphasCumprod[4]).toBe(Math.fround(Math.sqrt(1 / ac[4] - 1)));
    expect(f32.sqrtRecipAlphasCumprod[4]).toBe(Math.fround(1 / Math.sqrt(ac[4])));
    expect(f32.sqrtOneMinusAlphasCumprod[5]).toBeCloseTo(0.0179, 4);
  });
});

describe('ddimTimePairs', () => {
  it('ddimTimePairs should reproduce the official trajectory from t = 5', () => {
    expect(ddimTimePairs()).toEqual([[4, 3], [3, 2], [2, 1], [1, 0], [0, 0], [0, -1]]);
  });

  it('ddimSteps should have σ = 0 where t = t_next and c² + σ² = 1 − ᾱ_next', () => {
    const steps = ddimSteps();
    const ac = cosineSchedule().alphasCumprod;
    expect(steps).toHaveLength(6);
    expect(steps[4]).toMatchObject({ t: 0, tNext: 0, sigma: 0 });
    for (const s of steps.slice(0, 5)) {
      expect(s.c ** 2 + s.sigma ** 2).toBeCloseTo(1 - ac[s.tNext], 6);
      expect(s.sigma).toBeGreaterThanOrEqual(0);
    }
    expect(steps[0].sigma).toBeGreaterThan(0);
  });
});

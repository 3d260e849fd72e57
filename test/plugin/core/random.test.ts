import { describe, expect, it } from 'vitest';
import { createRng, hashSeed } from '../../../src/plugin/core/random.js';
import { GateError } from '../../../src/plugin/core/errors.js';

describe('createRng', () => {
  it('createRng should repeat the same stream for the same seed', () => {
    const a = createRng('frame-42');
    const b = createRng('frame-42');
    const c = createRng('frame-43');
    const xs = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.uniform())).not.toEqual(xs);
    expect(createRng(7).uniform()).toBe(createRng(7).uniform());
    expect(createRng(7).uniform()).not.toBe(createRng('7').uniform());
  });

  it('createRng should hash non-uint32 numbers instead of truncating them', () => {
    // 2^32 + 1 would collide with seed 1 under `>>> 0`.
    expect(createRng(2 ** 32 + 1).uniform()).not.toBe(createRng(1).uniform());
    expect(() => createRng(NaN)).toThrow(GateError);
  });

  it('hashSeed should be 32-bit FNV-1a', () => {
    // Published FNV-1a test vectors.
    expect(hashSeed('')).toBe(0x811c9dc5);
    expect(hashSeed('a')).toBe(0xe40c292c);
    expect(hashSeed('foobar')).toBe(0xbf9cf968);
  });

  it('uniform should be in [0, 1) with mean 1/2 and variance 1/12', () => {
    const rng = createRng(1);
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
      sq += u * u;
    }
    expect(outside).toBe(0);
    const mean = sum / n;
    expect(mean).toBeCloseTo(0.5, 2);
    expect(sq / n - mean * mean).toBeCloseTo(1 / 12, 3);
  });

  it('int should cover [0, n) evenly', () => {
    const rng = createRng('int');
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[rng.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
    expect(() => rng.int(0)).toThrow(GateError);
  });

  it('normal should have mean 0, variance 1 and Gaussian tails', () => {
    const rng = createRng('normal');
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    let beyond2 = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      sum += z;
      sq += z * z;
      if (Math.abs(z) > 2) beyond2++;
    }
    expect(sum / n).toBeCloseTo(0, 2);
    expect(sq / n).toBeCloseTo(1, 1);
    // P(|Z| > 2) = 0.0455 for a standard normal.
    expect(beyond2 / n).toBeGreaterThan(0.043);
    expect(beyond2 / n).toBeLessThan(0.048);
  });

  it('fillNormal should give the same values as successive normal() calls', () => {
    for (const len of [0, 1, 2, 7, 10]) {
      const a = createRng('fill');
      const b = createRng('fill');
      // Leave a spare pending in both so the odd/even bookkeeping is exercised.
      expect(a.normal()).toBe(b.normal());
      const filled = new Float32Array(len);
      a.fillNormal(filled);
      const oneByOne = Float32Array.from({ length: len }, () => b.normal());
      expect(Array.from(filled)).toEqual(Array.from(oneByOne));
      expect(a.normal()).toBe(b.normal());
    }
    const f64 = new Float64Array(3);
    createRng(3).fillNormal(f64);
    const ref = createRng(3);
    expect(Array.from(f64)).toEqual([ref.normal(), ref.normal(), ref.normal()]);
  });
});

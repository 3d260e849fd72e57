import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { calibrateCameras, calibrateGate, calibrationYaml, camerasYaml, MIN_CAMERA_IMAGES, round7 } from '../../../src/plugin/cli/calibrate.js';
import { parseCameras } from '../../../src/plugin/config/cameras.js';
import { GateError } from '../../../src/plugin/core/errors.js';
import { createRng } from '../../../src/plugin/core/random.js';
import type { GenuineComparison } from '../../../src/tools/eval/metrics.js';

/**
 * 2000 frames with qualities uniform in [0, 1); 1000 genuine pairs of consecutive frames whose
 * similarity grows with the pair's quality plus noise, so low-quality pairs carry the errors.
 */
function synthetic(seed = 'calibrate-test') {
  const rng = createRng(seed);
  const scores = Float64Array.from({ length: 2000 }, () => rng.uniform());
  const genuine: GenuineComparison[] = [];
  for (let i = 0; i < 2000; i += 2) {
    const q = Math.min(scores[i], scores[i + 1]);
    genuine.push({ similarity: 0.2 + 0.6 * q + 0.15 * rng.normal(), qualityA: scores[i], qualityB: scores[i + 1] });
  }
  return { scores, genuine, threshold: 0.4 };
}

const below = (s: Float64Array, t: number) => s.filter((v) => v < t).length / s.length;

describe('calibrateGate', () => {
  it('calibrateGate should hit a discard target and an escalation budget without exceeding them', () => {
    const { scores, genuine, threshold } = synthetic();
    const c = calibrateGate(scores, genuine, threshold, { targetDiscard: 0.1, escalationBudget: 0.15 });
    expect(c.reject).toBeLessThan(c.accept);
    expect(c.expectedDiscard).toBe(below(scores, c.reject));
    expect(c.expectedBorderline).toBe(below(scores, c.accept) - below(scores, c.reject));
    // Targets are maxima, also after rounding the thresholds to 7 digits; rounding moves at most a frame.
    expect(c.expectedDiscard).toBeLessThanOrEqual(0.1);
    expect(c.expectedDiscard + c.expectedBorderline).toBeLessThanOrEqual(0.25);
    expect(c.expectedDiscard).toBeGreaterThanOrEqual(0.1 - 1 / 2000);
    expect(c.expectedBorderline).toBeGreaterThanOrEqual(0.15 - 2 / 2000);
    expect(c.frames).toBe(2000);
    expect(c.genuine).toBe(1000);
  });

  it('calibrateGate should report FNMR on the pairs that keep both images, lower than without a gate here', () => {
    const { scores, genuine, threshold } = synthetic();
    const c = calibrateGate(scores, genuine, threshold, { targetDiscard: 0.2 });
    const kept = genuine.filter((g) => Math.min(g.qualityA, g.qualityB) >= c.reject);
    expect(c.expectedFnmr).toBe(kept.filter((g) => g.similarity < threshold).length / kept.length);
    expect(c.pairDiscard).toBe(1 - kept.length / genuine.length);
    expect(c.fnmr0).toBe(genuine.filter((g) => g.similarity < threshold).length / genuine.length);
    expect(c.fnmr0).toBeGreaterThan(0);
    expect(c.expectedFnmr).toBeLessThan(c.fnmr0);
    expect(c.accept).toBe(c.reject);
    expect(c.expectedBorderline).toBe(0);
  });

  it('calibrateGate should meet an FNMR target with the lowest reject threshold that does', () => {
    const { scores, genuine, threshold } = synthetic();
    const target = 0.05;
    const c = calibrateGate(scores, genuine, threshold, { targetFnmr: target });
    expect(c.expectedFnmr).toBeLessThanOrEqual(target);
    // A visibly lower reject threshold lets more errors back in than the target allows.
    const lower = genuine.filter((g) => Math.min(g.qualityA, g.qualityB) >= c.reject - 0.02);
    expect(lower.filter((g) => g.similarity < threshold).length / lower.length).toBeGreaterThan(target);
  });

  it('calibrateGate should need exactly one target, and say when an FNMR target cannot be met', () => {
    const { scores, genuine, threshold } = synthetic();
    const usage = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ code: 'USAGE' }) as unknown as GateError);
    usage(() => calibrateGate(scores, genuine, threshold, {}));
    usage(() => calibrateGate(scores, genuine, threshold, { targetDiscard: 0.1, targetFnmr: 0.1 }));
    usage(() => calibrateGate(scores, genuine, 10, { targetFnmr: 0.01 }));
  });
});

describe('round7', () => {
  it('round7 should round to 7 significant digits in the direction asked, never past it', () => {
    expect(round7(19.599417, 'down')).toBe(19.59941);
    expect(round7(19.599417, 'up')).toBe(19.59942);
    expect(round7(19.59942, 'down')).toBe(19.59942);
    expect(round7(-0.123456789, 'down')).toBe(-0.1234568);
    expect(round7(-0.123456789, 'up')).toBe(-0.1234567);
    expect(round7(0, 'up')).toBe(0);
    const rng = createRng('round7');
    for (let i = 0; i < 1000; i++) {
      const v = (rng.uniform() - 0.5) * 10 ** rng.int(8);
      expect(round7(v, 'down')).toBeLessThanOrEqual(v);
      expect(round7(v, 'up')).toBeGreaterThanOrEqual(v);
      expect(Math.abs(round7(v, 'up') - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-6);
    }
  });
});

describe('calibrationYaml', () => {
  it('calibrationYaml should be YAML whose gate section holds the thresholds, with a note for a non-gate scorer', () => {
    const { scores, genuine, threshold } = synthetic();
    const c = calibrateGate(scores, genuine, threshold, { targetDiscard: 0.1, escalationBudget: 0.1 });
    const meta = { command: 'diffiqa-gate calibrate --data x', threshold, fmr: 1e-3 };
    const text = calibrationYaml(c, { ...meta, scorer: 'sharpness', regressor: 'diffiqa-r-own' });
    expect(parse(text)).toEqual({ gate: { accept: c.accept, reject: c.reject } });
    expect(text).toContain('# note: the gate scores with models.regressor (diffiqa-r-own)');
    expect(text).toContain('diffiqa-gate calibrate --data x');
    expect(calibrationYaml(c, { ...meta, scorer: 'diffiqa-r-own', regressor: 'diffiqa-r-own' })).not.toContain('# note');
  });
});

describe('calibrateCameras', () => {
  /** Two cameras of 1000 images each, the dark one scoring 0.3 lower; a third with too few images. */
  function fleet() {
    const { scores, genuine } = synthetic('per-camera');
    const quality = new Map<string, number>(), cameraOf = new Map<string, string>();
    const pairs: { a: string; b: string; similarity: number }[] = [];
    for (let i = 0; i < scores.length; i++) {
      const cam = i < 1000 ? 'lit-1' : 'dark-1';
      quality.set(`f${i}.jpg`, cam === 'dark-1' ? scores[i] - 0.3 : scores[i]);
      cameraOf.set(`f${i}.jpg`, cam);
    }
    genuine.forEach((g, k) => pairs.push({ a: `f${2 * k}.jpg`, b: `f${2 * k + 1}.jpg`, similarity: g.similarity }));
    for (let i = 0; i < MIN_CAMERA_IMAGES - 1; i++) { quality.set(`k${i}.jpg`, 0.5); cameraOf.set(`k${i}.jpg`, 'kiosk'); }
    return { quality, cameraOf, pairs };
  }

  it('calibrateCameras should calibrate each camera on its own images to the same targets, and skip one with too few', () => {
    const { quality, cameraOf, pairs } = fleet();
    const cams = calibrateCameras(quality, pairs, cameraOf, 0.4, { targetDiscard: 0.1, escalationBudget: 0.1 });
    expect(cams.map((k) => [k.camera, k.images, 'skipped' in k])).toEqual([['dark-1', 1000, false], ['kiosk', MIN_CAMERA_IMAGES - 1, true], ['lit-1', 1000, false]]);
    const [dark, , lit] = cams.map((k) => ('c' in k ? k.c : undefined));
    for (const c of [dark!, lit!]) {
      expect(c.expectedDiscard).toBeLessThanOrEqual(0.1);
      expect(c.expectedDiscard).toBeGreaterThanOrEqual(0.1 - 1 / 1000);
      expect(c.genuine).toBe(500);
    }
    expect(lit!.reject - dark!.reject).toBeCloseTo(0.3, 1);
  });

  it('camerasYaml should be a cameras section the gate config reads, skipped cameras as comments', () => {
    const { quality, cameraOf, pairs } = fleet();
    const cams = calibrateCameras(quality, pairs, cameraOf, 0.4, { targetDiscard: 0.1, escalationBudget: 0.1 });
    const text = camerasYaml(cams);
    const { cameras } = parse(text) as { cameras: Record<string, { accept: number; reject: number }> };
    expect(Object.keys(cameras)).toEqual(['dark-1', 'lit-1']);
    const policy = parseCameras(cameras, { mode: 'enforce', accept: 0.9, reject: 0.8, escalate: true, escalation: { accept: 1, reject: 1 } });
    const lit = cams[2] as { c: { accept: number; reject: number } };
    expect(policy.for('lit-1')).toMatchObject({ accept: lit.c.accept, reject: lit.c.reject });
    expect(text).toContain('# "kiosk": 49 images, left to the global thresholds (fewer than 50 images)');
  });
});

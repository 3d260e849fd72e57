import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModel } from '../../../src/plugin/assets/manifest.js';
import type { AlignedFace } from '../../../src/plugin/core/frame.js';
import type { InferFn } from '../../../src/plugin/face/detect.js';
import { prepareFace } from '../../../src/plugin/face/prepare.js';
import { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { sharedDir, sharedPath } from '../../helpers/shared.js';
import { DiffusionScorer, meanStd, type DiffusionResult } from '../../../src/plugin/diffusion/scorer.js';
import { DENOISER_ID, EMBEDDER_ID, fixtureRuntime, parityCases, parityFace, parityNoise } from './fixtures.js';

describe('DiffusionScorer', () => {
  let rt: ModelRuntime;
  beforeAll(async () => { rt = await fixtureRuntime(); });
  afterAll(async () => { await rt?.close(); });

  const scorer = (opts: Partial<ConstructorParameters<typeof DiffusionScorer>[1]> = {}) =>
    new DiffusionScorer(rt, { denoiserId: DENOISER_ID, embedderId: EMBEDDER_ID, ...opts });

  it('scoreBatch should equal the PyTorch reference with injected noise (score, std, q_r within 1e-5)', async () => {
    const cases = parityCases();
    expect(cases.length).toBeGreaterThanOrEqual(2);
    for (const repeats of [...new Set(cases.map((c) => c.repeats))]) {
      const group = cases.filter((c) => c.repeats === repeats);
      // Both faces of a repeat count in one call: the parity also covers cross-image batching.
      const results = await scorer({ repeats, maxBatch: 16 }).scoreBatch(group.map((c) => ({ face: parityFace(c.face), seed: 'unused', noise: parityNoise(c) })));
      group.forEach((c, i) => {
        const r = results[i];
        const where = `${c.dir}: TS ${r.score} vs reference ${c.score}`;
        expect(Math.abs(r.score - c.score), where).toBeLessThan(1e-5);
        expect(Math.abs(r.std - c.std), `${c.dir} std`).toBeLessThan(1e-5);
        expect(r.repeats).toBe(repeats);
        r.perRepeat.forEach((q, j) => expect(Math.abs(q - c.perRepeat[j]), `${c.dir} q_${j}`).toBeLessThan(1e-5));
      });
    }
  });

  it('scoreBatch should give the same score for the same seed and a different one for another seed', async () => {
    const face = parityFace(parityCases()[0].face);
    const s = scorer({ repeats: 2 });
    const [a, b, c] = await s.scoreBatch([{ face, seed: 'frame-1' }, { face, seed: 'frame-1' }, { face, seed: 'frame-2' }]);
    expect(a.score).toBe(b.score);
    expect(a.perRepeat).toEqual(b.perRepeat);
    expect(c.score).not.toBe(a.score);
    // A fresh scorer (fresh generator state) reproduces it too.
    const [again] = await scorer({ repeats: 2 }).scoreBatch([{ face, seed: 'frame-1' }]);
    expect(again.score).toBeCloseTo(a.score, 12);
  });

  it('scoreBatch should give the same scores for several images in one call as one at a time', async () => {
    const faces = parityCases().filter((c) => c.repeats === 3).map((c, i) => ({ face: parityFace(c.face), seed: `f${i}` }));
    // maxBatch 5 splits one image's 6 samples across calls and mixes images within a call.
    const together = await scorer({ repeats: 3, maxBatch: 5 }).scoreBatch(faces);
    const alone: DiffusionResult[] = [];
    for (const f of faces) alone.push((await scorer({ repeats: 3, maxBatch: 160 }).scoreBatch([f]))[0]);
    together.forEach((r, i) => {
      expect(Math.abs(r.score - alone[i].score)).toBeLessThan(1e-6);
      expect(Math.abs(r.std - alone[i].std)).toBeLessThan(1e-6);
    });
    expect(together[0].score).not.toBe(together[1].score);
  });

  it('scoreBatch should report each image its share of the UNet calls', async () => {
    const face = parityFace(parityCases()[0].face);
    const one = await scorer({ repeats: 3, maxBatch: 160 }).scoreBatch([{ face, seed: 'a' }]);
    expect(one[0].unetCalls).toBe(6);
    // 3 images × 6 samples = 18 samples in chunks of 12: 2 chunks × 6 steps = 12 calls, 4 each.
    const three = await scorer({ repeats: 3, maxBatch: 12 }).scoreBatch(['a', 'b', 'c'].map((seed) => ({ face, seed })));
    for (const r of three) expect(r.unetCalls).toBeCloseTo(4, 12);
    expect(three.every((r) => r.ms > 0)).toBe(true);
  });

  it('scoreBatch should add repeats in adaptive mode until std/√n ≤ maxStdErr or maxRepeats', async () => {
    const face = parityFace(parityCases()[0].face);
    const loose = await scorer({ adaptive: { minRepeats: 2, maxRepeats: 8, maxStdErr: 1 } }).scoreBatch([{ face, seed: 'x' }]);
    expect(loose[0].repeats).toBe(2);
    const strict = await scorer({ adaptive: { minRepeats: 2, maxRepeats: 5, maxStdErr: 1e-12, step: 2 } }).scoreBatch([{ face, seed: 'x' }]);
    // Rounds of 2, 2, then 1 to stop exactly at maxRepeats.
    expect(strict[0].repeats).toBe(5);
    expect(strict[0].perRepeat).toHaveLength(5);
    // The first round draws the same noise as the loose run's only round.
    expect(strict[0].perRepeat.slice(0, 2)).toEqual(loose[0].perRepeat);
    const { mean, std } = meanStd(strict[0].perRepeat);
    expect(strict[0].score).toBe(mean);
    expect(strict[0].std).toBe(std);
    expect(strict[0].unetCalls).toBe(18);
  });

  it('constructor should reject invalid repeats, batch sizes and adaptive settings with CONFIG_INVALID', () => {
    expect(() => scorer({ repeats: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => scorer({ maxBatch: 1.5 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => scorer({ adaptive: { minRepeats: 1, maxRepeats: 4, maxStdErr: 0.01 } })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => scorer({ adaptive: { minRepeats: 4, maxRepeats: 2, maxStdErr: 0.01 } })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('scoreBatch should reject injected noise of the wrong size or in adaptive mode with USAGE', async () => {
    const c = parityCases().find((x) => x.repeats === 3)!;
    const input = { face: parityFace(c.face), seed: 's', noise: parityNoise(c) };
    await expect(scorer({ repeats: 4 }).scoreBatch([input])).rejects.toMatchObject({ code: 'USAGE' });
    await expect(scorer({ adaptive: { minRepeats: 3, maxRepeats: 3, maxStdErr: 1 } }).scoreBatch([input])).rejects.toMatchObject({ code: 'USAGE' });
    await expect(scorer({ repeats: 3 }).scoreBatch([{ ...input, noise: { eps: input.noise.eps, z: input.noise.z.slice(1) } }])).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('scoreBatch should reject a denoiser that does not take [−1,1] input with CONFIG_INVALID', async () => {
    // The FR model is not a denoiser: its ImageNet normalisation must be refused before any run.
    await expect(new DiffusionScorer(rt, { denoiserId: EMBEDDER_ID, embedderId: EMBEDDER_ID }).scoreBatch([{ face: parityFace(parityCases()[0].face), seed: 's' }]))
      .rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

/** The project's own denoiser; the sanity check below needs a trained one, not the random fixture. */
const DEFAULT_DENOISER = process.env.DIFFIQA_DENOISER ?? 'diffiqa-unet-own';

describe('DiffusionScorer on real faces', () => {
  /** Mean score of clean faces must beat that of the same crops blurred and downscaled. */
  async function expectCleanAboveDegraded(rt: ModelRuntime, denoiserId: string, embedderId: string): Promise<void> {
    const { clean, degraded } = await lfwFaces(rt, 4);
    const s = new DiffusionScorer(rt, { denoiserId, embedderId, repeats: 3 });
    const a = await s.scoreBatch(clean.map((face, i) => ({ face, seed: `lfw-${i}` })));
    const b = await s.scoreBatch(degraded.map((face, i) => ({ face, seed: `lfw-${i}` })));
    const mean = (r: DiffusionResult[]) => r.reduce((x, y) => x + y.score, 0) / r.length;
    expect(mean(a), `clean ${mean(a)} vs degraded ${mean(b)}`).toBeGreaterThan(mean(b));
  }

  // With the random fixture UNet the gap comes from the FR model's sensitivity (noisy and flipped
  // copies of a poor crop drift further from it), not from restoration: a pipeline check only.
  it('scoreBatch should score clean LFW faces above degraded copies with the fixture denoiser (detector → align → score)', async () => {
    const rt = await fixtureRuntime({ mirrorDir: sharedDir() });
    try {
      await expectCleanAboveDegraded(rt, DENOISER_ID, EMBEDDER_ID);
    } finally {
      await rt.close();
    }
  });

  it(`scoreBatch should score clean LFW faces above degraded copies with ${DEFAULT_DENOISER}`, async () => {
    const rt = new ModelRuntime({ mirrorDir: sharedDir(), allowDownload: false });
    try {
      await expectCleanAboveDegraded(rt, DEFAULT_DENOISER, defaultModel(rt.manifest, 'embedder').id);
    } finally {
      await rt.close();
    }
  });
});

/** Detector through the runtime's pool, as the pipeline's prepare stage runs it. */
function poolInfer(rt: ModelRuntime): InferFn {
  return async (modelId, inputs) => {
    const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { type: 'float32' as const, data: t.data, dims: t.dims }]));
    const out = await rt.run(modelId, feeds);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]));
  };
}

/**
 * `count` LFW faces (first image of people spread over the alphabet), detected and aligned, and
 * the same aligned crops blurred (σ = 4) and downscaled 4× (112 → 28 → 112).
 */
async function lfwFaces(rt: ModelRuntime, count: number): Promise<{ clean: AlignedFace[]; degraded: AlignedFace[] }> {
  const { entry: det } = await rt.load('retinaface-mnet025');
  const deps = {
    infer: poolInfer(rt),
    limits: { maxBytes: 10_000_000, maxPixels: 40_000_000, minSide: 16 },
    detector: { modelId: det.id, inputName: det.input.name, norm: det.normalisation, colorOrder: det.input.colorOrder },
  };
  const people = readdirSync(sharedPath('data', 'lfw')).sort();
  const clean: AlignedFace[] = [];
  const degraded: AlignedFace[] = [];
  for (let i = 0; i < count; i++) {
    const dir = people[Math.floor((i * people.length) / count)];
    const file = path.join(sharedPath('data', 'lfw', dir), readdirSync(sharedPath('data', 'lfw', dir)).sort()[0]);
    const face = await prepareFace(readFileSync(file), {}, deps);
    const raw = { raw: { width: face.size, height: face.size, channels: 3 as const } };
    const small = await sharp(face.data, raw).blur(4).resize(face.size / 4, face.size / 4).raw().toBuffer();
    const back = await sharp(small, { raw: { width: face.size / 4, height: face.size / 4, channels: 3 } }).resize(face.size, face.size).raw().toBuffer();
    clean.push(face);
    degraded.push({ ...face, data: new Uint8Array(back) });
  }
  return { clean, degraded };
}

import { describe, expect, it } from 'vitest';
import type { Manifest, ModelEntry, ModelRole } from '../../../src/plugin/assets/manifest.js';
import { GateError } from '../../../src/plugin/core/errors.js';
import { createRng } from '../../../src/plugin/core/random.js';
import { cascadeQuality, inBand, isCascade, parseCascade, resolveLineup, splitScorerList, type Band } from '../../../src/tools/eval/cascade.js';
import type { ScorerContext } from '../../../src/tools/eval/scorers.js';

const entry = (id: string, role: ModelRole, sha: string): ModelEntry => ({
  id, role, version: '1', file: `${id}.onnx`, sha256: sha.repeat(64 / sha.length), outputs: ['out'], batch: 'dynamic', licence: 'test',
  input: { name: 'in', layout: 'NCHW', shape: [1, 3, 112, 112], colorOrder: 'RGB' },
  normalisation: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
});

const manifest: Manifest = { models: [entry('reg-a', 'regressor', 'a'), entry('emb', 'embedder', 'e'), entry('den', 'denoiser', 'd')] };
const ctx: ScorerContext = { manifest, embedderId: 'emb', repeats: 3, runtime: () => { throw new Error('no model may start'); } };

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (err) { return err instanceof GateError ? err.code : 'not a GateError'; }
  return undefined;
}

describe('splitScorerList', () => {
  it('splitScorerList should keep a cascade and its full-DifFIQA part together', () => {
    expect(splitScorerList(['random,cascade:reg-a,diffiqa:den,diffiqa:den', 'sharpness'])).toEqual(['random', 'cascade:reg-a,diffiqa:den', 'diffiqa:den', 'sharpness']);
    expect(splitScorerList(['cascade:reg-a,diffiqa:den'])).toEqual(['cascade:reg-a,diffiqa:den']);
  });

  it('splitScorerList should refuse a cascade without its full-DifFIQA part', () => {
    expect(code(() => splitScorerList(['cascade:reg-a']))).toBe('USAGE');
    expect(code(() => splitScorerList(['cascade:reg-a,random']))).toBe('USAGE');
  });
});

describe('parseCascade', () => {
  it('parseCascade should split the id and refuse a full-DifFIQA or cascade inline part', () => {
    expect(parseCascade('cascade:reg-a,diffiqa:den')).toEqual({ inline: 'reg-a', full: 'diffiqa:den' });
    expect(code(() => parseCascade('cascade:diffiqa:den,diffiqa:den'))).toBe('USAGE');
    expect(code(() => parseCascade('cascade:reg-a'))).toBe('USAGE');
  });
});

describe('cascadeQuality', () => {
  it('cascadeQuality should order below-band < band by full DifFIQA < above-band', () => {
    const band: Band = [0.4, 0.6];
    const rng = createRng('cascade');
    const images = Array.from({ length: 2000 }, () => ({ inline: rng.uniform(), full: 4 * rng.normal() }));
    // Extremes of full DifFIQA too: the map must stay inside the band for any real q.
    images.push({ inline: 0.5, full: 1e12 }, { inline: 0.45, full: -1e12 }, { inline: 0.4, full: 0 }, { inline: 0.6, full: 0 });
    const q = images.map((im) => cascadeQuality(im.inline, im.full, band));
    const group = (im: { inline: number }) => (im.inline < band[0] ? 0 : im.inline < band[1] ? 1 : 2);
    for (let i = 0; i < images.length; i++) {
      if (group(images[i]) !== 1) expect(q[i]).toBe(images[i].inline);
      else expect(q[i] >= band[0] && q[i] < band[1], `${q[i]}`).toBe(true);
    }
    // Every pair in the right order: the group first, then full DifFIQA inside the band.
    const order = images.map((_, i) => i).sort((a, b) => q[a] - q[b]);
    for (let k = 1; k < order.length; k++) {
      const a = images[order[k - 1]], b = images[order[k]];
      expect(group(a)).toBeLessThanOrEqual(group(b));
      if (group(a) === 1 && group(b) === 1) expect(a.full).toBeLessThanOrEqual(b.full);
    }
  });

  it('cascadeQuality should need full DifFIQA only inside the band, and an empty band changes nothing', () => {
    expect(cascadeQuality(0.2, undefined, [0.4, 0.6])).toBe(0.2);
    expect(code(() => cascadeQuality(0.5, undefined, [0.4, 0.6]))).toBe('INTERNAL');
    expect(inBand(0.5, [0.5, 0.5])).toBe(false);
    expect(cascadeQuality(0.5, undefined, [0.5, 0.5])).toBe(0.5);
  });
});

describe('resolveLineup', () => {
  it('resolveLineup should build a cascade of a regressor and full DifFIQA, keyed by both parts and the band', () => {
    const [plain, cascade] = resolveLineup(['reg-a', 'cascade:reg-a,diffiqa:den'], ctx, [0.1, 0.2]);
    expect(isCascade(plain)).toBe(false);
    if (!isCascade(cascade)) throw new Error('not a cascade');
    expect(cascade.inline.key).toBe(plain.key);
    expect(cascade.full.key).toBe('diffiqa:den@dddddddddddd+emb@eeeeeeeeeeee/r3');
    expect(cascade.key).toBe(`cascade(${plain.key},${cascade.full.key})[0.1,0.2)`);
    const [other] = resolveLineup(['cascade:reg-a,diffiqa:den'], ctx, [0.1, 0.3]);
    expect(other.key).not.toBe(cascade.key);
  });

  it('resolveLineup should refuse duplicates, unknown parts and an inverted band with coded errors', () => {
    expect(code(() => resolveLineup(['random', 'random'], ctx, [0, 1]))).toBe('USAGE');
    expect(code(() => resolveLineup(['cascade:nope,diffiqa:den'], ctx, [0, 1]))).toBe('USAGE');
    expect(code(() => resolveLineup(['cascade:reg-a,diffiqa:missing'], ctx, [0, 1]))).toBe('MODEL_UNKNOWN');
    expect(code(() => resolveLineup(['cascade:reg-a,diffiqa:den'], ctx, [0.6, 0.4]))).toBe('USAGE');
  });
});

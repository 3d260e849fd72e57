import { describe, expect, it } from 'vitest';
import type { Manifest, ModelEntry, ModelRole } from '../../../src/plugin/assets/manifest.js';
import { GateError } from '../../../src/plugin/core/errors.js';
import { random, sharpness } from '../../../src/tools/eval/baselines.js';
import { BASELINES, resolveScorers, type ScorerContext } from '../../../src/tools/eval/scorers.js';

const entry = (id: string, role: ModelRole, sha: string): ModelEntry => ({
  id, role, version: '1', file: `${id}.onnx`, sha256: sha.repeat(64 / sha.length), outputs: ['out'], batch: 'dynamic', licence: 'test',
  input: { name: 'in', layout: 'NCHW', shape: [1, 3, 112, 112], colorOrder: 'RGB' },
  normalisation: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
});

const manifest: Manifest = { models: [entry('reg-a', 'regressor', 'a'), entry('emb', 'embedder', 'e'), entry('den', 'denoiser', 'd'), entry('det', 'detector', 'f')] };

function ctx(repeats = 10): ScorerContext & { started: () => number } {
  let started = 0;
  return {
    manifest, embedderId: 'emb', repeats,
    runtime: () => { started++; throw new Error('baselines must not start models'); },
    started: () => started,
  };
}

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (err) { return err instanceof GateError ? err.code : 'not a GateError'; }
  return undefined;
}

describe('resolveScorers', () => {
  it('resolveScorers should accept every baseline, a regressor id and diffiqa:<denoiser>, keyed by model file and repeats', () => {
    const s = resolveScorers([...Object.keys(BASELINES), 'reg-a', 'diffiqa:den'], ctx(4));
    expect(s.map((x) => x.id)).toEqual([...Object.keys(BASELINES), 'reg-a', 'diffiqa:den']);
    expect(s.find((x) => x.id === 'reg-a')!.key).toBe('reg-a@aaaaaaaaaaaa');
    expect(s.find((x) => x.id === 'diffiqa:den')!.key).toBe('diffiqa:den@dddddddddddd+emb@eeeeeeeeeeee/r4');
    expect(new Set(s.map((x) => x.key)).size).toBe(s.length);
  });

  it('resolveScorers should give a different DifFIQA cache key for other repeats', () => {
    expect(resolveScorers(['diffiqa:den'], ctx(10))[0].key).not.toBe(resolveScorers(['diffiqa:den'], ctx(5))[0].key);
  });

  it('resolveScorers should reject unknown ids, duplicates and models of the wrong role with coded errors', () => {
    expect(code(() => resolveScorers(['nope'], ctx()))).toBe('USAGE');
    expect(code(() => resolveScorers(['emb'], ctx()))).toBe('USAGE');
    expect(code(() => resolveScorers(['random', 'random'], ctx()))).toBe('USAGE');
    expect(code(() => resolveScorers(['diffiqa:det'], ctx()))).toBe('USAGE');
    expect(code(() => resolveScorers(['diffiqa:missing'], ctx()))).toBe('MODEL_UNKNOWN');
  });

  it('score should compute the baselines from the faces, eye distances and embeddings given, without models', async () => {
    const c = ctx();
    const byId = Object.fromEntries(resolveScorers(Object.keys(BASELINES), c).map((s) => [s.id, s]));
    const size = 112;
    const faces = [0, 1].map((k) => Uint8Array.from({ length: size * size * 3 }, (_, i) => ((i * (k + 3)) % 251)));
    const batch = {
      samples: [{ file: 'a/1.jpg', eyeDistance: 30, landmarks: [] }, { file: 'b/2.jpg', eyeDistance: 12.5, landmarks: [] }],
      faces, size,
      embeddings: [Float32Array.from([3, 4]), Float32Array.from([1, 0])],
    };
    expect(await byId['face-size'].score(batch)).toEqual([30, 12.5]);
    expect(await byId['embedding-norm'].score(batch)).toEqual([5, 1]);
    expect(await byId.random.score(batch)).toEqual([random('a/1.jpg'), random('b/2.jpg')]);
    expect(await byId.sharpness.score(batch)).toEqual(faces.map((data) => sharpness({ size, data })));
    expect(byId.sharpness.needsFaces && byId.brightness.needsFaces).toBe(true);
    expect(byId['face-size'].needsFaces || byId.random.needsFaces).toBe(false);
    expect(c.started()).toBe(0);
  });
});

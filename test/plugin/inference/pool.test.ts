import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { subscribeTo } from '../../../src/plugin/core/diagnostic.js';
import { inferenceChannels } from '../../../src/plugin/inference/pool.js';
import { toTensor } from '../../../src/plugin/face/tensor.js';
import { sharedDir } from '../../helpers/shared.js';

function randomItem(seed: number): Float32Array {
  const a = new Float32Array(3 * 112 * 112);
  let s = seed;
  for (let i = 0; i < a.length; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = (s / 2 ** 32) * 2 - 1; }
  return a;
}

/** A uint8 HWC face of noise: what the batchers of face models take. */
function randomFace(seed: number): Uint8Array {
  return Uint8Array.from(randomItem(seed), (v) => Math.floor((v + 1) * 127.5));
}

/** The model run directly on a float tensor packed on this thread: the reference for faces packed on the worker. */
async function direct(rt: ModelRuntime, modelId: string, face: Uint8Array): Promise<Float32Array> {
  const { entry } = rt.pool.model(modelId);
  const data = toTensor([face], entry.normalisation, entry.input.colorOrder);
  const out = await rt.run(modelId, { [entry.input.name]: { type: 'float32', data, dims: [1, 3, 112, 112] } });
  return out[entry.outputs[0]].data as Float32Array;
}

describe('InferencePool', () => {
  let rt: ModelRuntime;
  beforeAll(async () => {
    rt = new ModelRuntime({ mirrorDir: sharedDir(), cacheDir: mkdtempSync(path.join(os.tmpdir(), 'pool-')), allowDownload: false, workers: 2, intraOpThreads: 1, batch: { maxBatch: 4, maxDelayMs: 20, maxQueue: 6 } });
    await rt.load('mobilefacenet');
    await rt.load('diffiqa-r-own');
  });
  afterAll(async () => { await rt.close(); });

  it('load should report the execution provider that runs, falling back to cpu', async () => {
    expect(rt.pool.model('mobilefacenet').provider).toBe('cpu');
  });

  it('run should batch a fixed-batch-1 model by looping, equal to single runs', async () => {
    const items = [randomItem(1), randomItem(2), randomItem(3)];
    const singles = [];
    for (const it of items) singles.push((await rt.run('mobilefacenet', { input0: { type: 'float32', data: it.slice(), dims: [1, 3, 112, 112] } })).output0.data as Float32Array);
    const data = new Float32Array(3 * items[0].length);
    items.forEach((it, i) => data.set(it, i * it.length));
    const batched = (await rt.run('mobilefacenet', { input0: { type: 'float32', data, dims: [3, 3, 112, 112] } })).output0;
    expect(batched.dims).toEqual([3, 128]);
    for (let i = 0; i < 3; i++) {
      const row = (batched.data as Float32Array).subarray(i * 128, (i + 1) * 128);
      for (let j = 0; j < 128; j++) expect(row[j]).toBeCloseTo(singles[i][j], 5);
    }
  });

  it('submit should group concurrent items into batches and return each its own output', async () => {
    const b = rt.batcher('mobilefacenet');
    const before = b.stats.batches;
    const items = [1, 2, 3, 4, 5].map(randomFace);
    const outs = await Promise.all(items.map((it) => b.submit(it)));
    expect(b.stats.batches - before).toBeLessThanOrEqual(3);
    const want = await direct(rt, 'mobilefacenet', items[4]);
    for (let j = 0; j < 128; j++) expect(outs[4].output0[j]).toBeCloseTo(want[j], 5);
  });

  it('submit should give faces packed on the worker the scores of float tensors packed here, batch sizes changing', async () => {
    // Batches of 4, then 1, then 3 reuse the worker's packing buffers through shorter views of them.
    const b = rt.batcher('diffiqa-r-own');
    const faces = Array.from({ length: 8 }, (_, i) => randomFace(100 + i));
    const outs = [
      ...await Promise.all(faces.slice(0, 4).map((f) => b.submit(f))),
      await b.submit(faces[4]),
      ...await Promise.all(faces.slice(5).map((f) => b.submit(f))),
    ];
    const want = await Promise.all(faces.map((f) => direct(rt, 'diffiqa-r-own', f)));
    const scores = outs.map((o) => o.score[0]);
    scores.forEach((s, i) => expect(s).toBeCloseTo(want[i][0], 5));
    expect(new Set(scores.map((s) => s.toFixed(4))).size).toBeGreaterThan(4);
  });

  it('submit should refuse a float item for a face model with INTERNAL', async () => {
    await expect(rt.batcher('diffiqa-r-own').submit(randomItem(1))).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('submit should reject with INFER_QUEUE_FULL beyond maxQueue and count it', async () => {
    const b = rt.batcher('mobilefacenet');
    const rejectedBefore = b.stats.rejected;
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => b.submit(randomFace(i))));
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    expect((rejected[0] as PromiseRejectedResult).reason.code).toBe('INFER_QUEUE_FULL');
    expect(b.stats.rejected - rejectedBefore).toBe(rejected.length);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(6);
  });

  it('close should be idempotent and run what was already queued', async () => {
    const rt2 = new ModelRuntime({ mirrorDir: sharedDir(), cacheDir: mkdtempSync(path.join(os.tmpdir(), 'pool-')), allowDownload: false, batch: { maxBatch: 8, maxDelayMs: 10_000, maxQueue: 8 } });
    await rt2.load('mobilefacenet');
    const b = rt2.batcher('mobilefacenet');
    const pending = b.submit(randomFace(9));
    const c1 = b.close();
    const c2 = b.close();
    expect(c1).toBe(c2);
    await c1;
    expect((await pending).output0).toHaveLength(128);
    await expect(b.submit(randomFace(1))).rejects.toMatchObject({ code: 'INFER_CLOSED' });
    await rt2.close();
    await rt2.close();
  });

  it('load should fail with MODEL_LOAD naming the model for a file that is not ONNX', async () => {
    const { writeFileSync } = await import('node:fs');
    const { createHash } = await import('node:crypto');
    const cache = mkdtempSync(path.join(os.tmpdir(), 'pool-'));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(cache, 'models'));
    writeFileSync(path.join(cache, 'models', 'junk.onnx'), 'not a model');
    const entry = { ...rt.entry('mobilefacenet'), id: 'junk', file: 'junk.onnx', bundledPath: undefined, mirrorPath: undefined, sha256: createHash('sha256').update('not a model').digest('hex') };
    const { AssetResolver } = await import('../../../src/plugin/assets/resolver.js');
    const err = await rt.pool.load(entry, new AssetResolver({ cacheDir: cache, allowDownload: false })).catch((e) => e);
    expect(err.code).toBe('MODEL_LOAD');
    expect(err.message).toContain('junk');
  });

  it('crashWorker should have the pool restart the dead worker, run its batch again and be ready once the models are back', async () => {
    const rt3 = new ModelRuntime({ mirrorDir: sharedDir(), cacheDir: mkdtempSync(path.join(os.tmpdir(), 'pool-')), allowDownload: false, workers: 1, batch: { maxBatch: 4, maxDelayMs: 0, maxQueue: 64 } });
    try {
      await rt3.load('diffiqa-r-own');
      const b = rt3.batcher('diffiqa-r-own');
      const faces = Array.from({ length: 12 }, (_, i) => randomFace(100 + i));
      const before = await Promise.all(faces.map((f) => b.submit(f.slice())));
      const died: boolean[] = [];
      const off = subscribeTo(inferenceChannels.workerDied, rt3.pool, (e) => void died.push(e.restarting));
      onTestFinished(off);
      // Killed with batches queued and one in flight: every item still gets its score, from the new worker.
      const pending = Promise.all(faces.map((f) => b.submit(f.slice())));
      rt3.pool.crashWorker(0);
      await waitUntil(() => rt3.pool.liveWorkers === 0);
      expect(rt3.pool.liveWorkers).toBe(0);
      const after = await pending;
      expect(after.map((o) => o.score[0])).toEqual(before.map((o) => o.score[0]));
      expect(died).toEqual([true]);
      expect(rt3.pool.restarts).toBe(1);
      expect(rt3.pool.liveWorkers).toBe(1);
    } finally {
      await rt3.close();
    }
  });

  it('a worker that keeps dying should be restarted only within the budget, then runs fail with INFER_WORKER_DIED', async () => {
    const rt4 = new ModelRuntime({ mirrorDir: sharedDir(), cacheDir: mkdtempSync(path.join(os.tmpdir(), 'pool-')), allowDownload: false, workers: 1, restarts: { maxRestarts: 2, backoffMs: 10 }, batch: { maxBatch: 4, maxDelayMs: 0, maxQueue: 8 } });
    try {
      await rt4.load('diffiqa-r-own');
      const b = rt4.batcher('diffiqa-r-own');
      for (let i = 0; i < 3; i++) {
        await b.submit(randomFace(i));
        rt4.pool.crashWorker(0);
        await waitUntil(() => rt4.pool.liveWorkers === 0);
      }
      const err = await b.submit(randomFace(9)).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INFER_WORKER_DIED', canRetry: false });
      expect(rt4.pool.restarts).toBe(2);
      expect(rt4.pool.liveWorkers).toBe(0);
    } finally {
      await rt4.close();
    }
  });
});


async function waitUntil(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

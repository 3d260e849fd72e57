import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bareLanes, sessionOptions } from '../../../src/tools/bench/bare.js';
import type { BenchFace } from '../../../src/tools/bench/faces.js';
import { faceBatches } from '../../../src/tools/bench/prep.js';
import { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { sharedDir } from '../../helpers/shared.js';

/** Faces of noise: bareLanes reads only the aligned crops. */
function noiseFaces(count: number): BenchFace[] {
  let s = 7;
  return Array.from({ length: count }, () => {
    const data = Uint8Array.from({ length: 112 * 112 * 3 }, () => { s = (s * 1103515245 + 12345) >>> 0; return s >>> 24; });
    return { aligned: { data, size: 112 } } as unknown as BenchFace;
  });
}

describe('bareLanes', () => {
  let rt: ModelRuntime;
  beforeAll(async () => {
    rt = new ModelRuntime({ mirrorDir: sharedDir(), cacheDir: mkdtempSync(path.join(os.tmpdir(), 'bare-')), allowDownload: false, workers: 1, intraOpThreads: 1 });
    await rt.load('diffiqa-r-own');
  });
  afterAll(async () => { await rt.close(); });

  it('bareLanes should run every lane\'s batches in a thread of its own, each lane scoring its own faces as a bare session here does', async () => {
    const entry = rt.entry('diffiqa-r-own');
    const file = await rt.resolver.resolve(entry);
    const faces = noiseFaces(5);
    const row = await bareLanes(file, entry, faces, { batch: 4, images: 8, repeats: 2, threads: 1, lanes: 2 });
    expect(row).toMatchObject({ batch: 4, lanes: 2, threads: 1 });
    expect(row.cpuMsPerImage).toBeGreaterThan(0);
    expect(row.msPerImage).toBeGreaterThan(0);
    expect(row.runsMs).toHaveLength(2);
    // Two batches a pass: the warm-up pass and the two timed ones, in two threads that are not this one.
    expect(row.perLane.map((l) => l.runs)).toEqual([6, 6]);
    const threads = new Set(row.perLane.map((l) => l.threadId));
    expect(threads.size).toBe(2);
    expect(threads.has(threadId)).toBe(false);
    // Lane l starts at face l: its last batch, run by a bare session in this thread, gives the same output.
    const session = await ort.InferenceSession.create(file, sessionOptions(1, true));
    try {
      for (const [l, lane] of row.perLane.entries()) {
        const last = faceBatches([...faces.slice(l), ...faces.slice(0, l)], entry, 4, 2)[1];
        const out = await session.run({ [entry.input.name]: new ort.Tensor('float32', last, [4, 3, 112, 112]) });
        const sum = (Object.values(out)[0].data as Float32Array).reduce((a, b) => a + b, 0);
        expect(lane.lastSum).toBeCloseTo(sum, 5);
      }
      expect(row.perLane[0].lastSum).not.toBeCloseTo(row.perLane[1].lastSum, 5);
    } finally {
      await session.release();
    }
  }, 60_000);
});

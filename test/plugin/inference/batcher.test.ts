import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MicroBatcher } from '../../../src/plugin/inference/batcher.js';
import type { InferencePool } from '../../../src/plugin/inference/pool.js';
import type { Feeds, InputFeeds } from '../../../src/plugin/inference/types.js';

/** A pool whose runs finish only when the test says so; it records when each batch started. */
function heldPool() {
  const runs: { at: number; n: number; finish: () => void }[] = [];
  const pool = {
    runModel(_model: string, feeds: InputFeeds): Promise<{ outputs: Feeds; model: unknown }> {
      const n = Object.values(feeds)[0].dims[0];
      return new Promise((resolve) => {
        runs.push({ at: performance.now(), n, finish: () => resolve({ outputs: { y: { type: 'float32', data: new Float32Array(n), dims: [n, 1] } }, model: {} }) });
      });
    },
  } as unknown as InferencePool;
  return { pool, runs };
}

const opts = { modelId: 'm', inputName: 'x', itemShape: [2], maxBatch: 8, maxDelayMs: 50, maxQueue: 64, maxConcurrent: 1 };

describe('MicroBatcher', () => {
  beforeEach(() => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] }); });
  afterEach(() => { vi.useRealTimers(); });

  it('submit should run a lone item after maxDelay, and items that queued behind a busy worker as soon as it is free once their delay is up', async () => {
    const { pool, runs } = heldPool();
    const b = new MicroBatcher(pool, opts);
    const first = b.submit(new Float32Array(2));
    await vi.advanceTimersByTimeAsync(49);
    expect(runs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(1);
    // Two items arrive while the only worker is busy; it stays busy past their delay.
    await vi.advanceTimersByTimeAsync(10);
    const queued = [b.submit(new Float32Array(2)), b.submit(new Float32Array(2))];
    await vi.advanceTimersByTimeAsync(90);
    runs[0].finish();
    await first;
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toHaveLength(2);
    expect(runs[1]).toMatchObject({ n: 2, at: runs[0].at + 100 });
    runs[1].finish();
    await Promise.all(queued);
  });

  it('submit should let items that queued behind a busy worker wait out only the rest of their delay', async () => {
    const { pool, runs } = heldPool();
    const b = new MicroBatcher(pool, opts);
    const first = b.submit(new Float32Array(2));
    await vi.advanceTimersByTimeAsync(50);
    await vi.advanceTimersByTimeAsync(20);
    const late = b.submit(new Float32Array(2));
    await vi.advanceTimersByTimeAsync(10);
    runs[0].finish();
    await first;
    await vi.advanceTimersByTimeAsync(39);
    expect(runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(2);
    expect(runs[1].at - runs[0].at).toBe(70);
    runs[1].finish();
    await late;
  });

  it('submit with maxDelayMs 0 should batch the items of one event-loop turn together, run them without a timer\'s wait, and fill the next batch while the worker is busy', async () => {
    const { pool, runs } = heldPool();
    const b = new MicroBatcher(pool, { ...opts, maxDelayMs: 0 });
    const turn = [b.submit(new Float32Array(2)), b.submit(new Float32Array(2)), b.submit(new Float32Array(2))];
    expect(runs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs.map((r) => r.n)).toEqual([3]);
    expect(runs[0].at).toBe(0);
    // The only worker is busy: what arrives meanwhile waits and goes as one batch when it is free.
    const meanwhile = Array.from({ length: 5 }, () => b.submit(new Float32Array(2)));
    await vi.advanceTimersByTimeAsync(30);
    expect(runs).toHaveLength(1);
    runs[0].finish();
    await Promise.all(turn);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs.map((r) => r.n)).toEqual([3, 5]);
    expect(runs[1].at).toBe(30);
    runs[1].finish();
    await Promise.all(meanwhile);
  });
});

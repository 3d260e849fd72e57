import { describe, expect, it } from 'vitest';
import { Backpressure, type Saturable } from '../../../src/plugin/pipeline/backpressure.js';

class FakeQueue implements Saturable {
  depth = 0;
  constructor(readonly max: number) {}
  get saturated() { return this.depth >= this.max; }
  #drained?: () => void;
  onDrain(listener: () => void) { this.#drained = listener; return () => { this.#drained = undefined; }; }
  drain() { this.#drained?.(); }
  finishOne() { this.depth--; this.drain(); }
}

describe('Backpressure', () => {
  it('waitForRoom should pause the source when the queue is full and resume once it drains', async () => {
    const q = new FakeQueue(2);
    const calls: string[] = [];
    const bp = new Backpressure(q);
    bp.attach({ pauseAll: () => calls.push('pause'), resumeAll: () => calls.push('resume') });
    q.depth = 2;
    let passed = false;
    const waiting = bp.waitForRoom().then(() => { passed = true; });
    await new Promise((r) => setTimeout(r, 10));
    expect(passed).toBe(false);
    expect(calls).toEqual(['pause']);
    expect(bp.paused).toBe(true);
    q.finishOne();
    await waiting;
    expect(passed).toBe(true);
    expect(calls).toEqual(['pause', 'resume']);
    expect(bp.pauses).toBe(1);
    expect(bp.pausedMs).toBeGreaterThan(5);
  });

  it('waitForRoom should not pause when there is room', async () => {
    const q = new FakeQueue(2);
    const calls: string[] = [];
    const bp = new Backpressure(q);
    bp.attach({ pauseAll: () => calls.push('pause'), resumeAll: () => calls.push('resume') });
    await bp.waitForRoom();
    expect(calls).toEqual([]);
  });

  it('waitForRoom should keep waiters waiting while a drain still leaves the queue full', async () => {
    const q = new FakeQueue(1);
    const bp = new Backpressure(q);
    q.depth = 3;
    let passed = false;
    const waiting = bp.waitForRoom().then(() => { passed = true; });
    q.finishOne();
    await new Promise((r) => setTimeout(r, 5));
    expect(passed).toBe(false);
    q.finishOne();
    q.finishOne();
    await waiting;
    expect(passed).toBe(true);
  });

  it('waitForRoom should fail with INFER_CLOSED when aborted while full', async () => {
    const q = new FakeQueue(1);
    q.depth = 1;
    const bp = new Backpressure(q);
    const ac = new AbortController();
    const waiting = bp.waitForRoom(ac.signal);
    ac.abort();
    q.depth = 2; q.drain();
    await expect(waiting).rejects.toMatchObject({ code: 'INFER_CLOSED' });
  });
});

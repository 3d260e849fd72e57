import { describe, expect, it } from 'vitest';
import type { AdminPort } from '../../../src/plugin/kafka/port.js';
import { LagPoller } from '../../../src/plugin/telemetry/lag.js';

function fakeAdmin(end: Map<number, string>, committed: Map<number, string>) {
  const state = { fail: false, closed: 0, calls: 0 };
  const admin = {
    async endOffsets(topic: string) { state.calls++; if (state.fail) throw new Error('broker away'); expect(topic).toBe('in'); return end; },
    async committedOffsets(group: string) { expect(group).toBe('g'); return committed; },
    async close() { state.closed++; },
  } as unknown as AdminPort;
  return { admin, state };
}

describe('LagPoller', () => {
  it('poll should report end minus committed per partition, counting an uncommitted partition from 0', async () => {
    const { admin } = fakeAdmin(new Map([[1, '5'], [0, '10'], [2, '9007199254740999']]), new Map([[0, '4'], [2, '9007199254740990']]));
    const p = new LagPoller(admin, 'g', 'in');
    await p.poll();
    expect(p.last).toEqual([
      { topic: 'in', partition: 0, lag: 6 },
      { topic: 'in', partition: 1, lag: 5 },
      // Past 2^53: BigInt keeps the difference exact.
      { topic: 'in', partition: 2, lag: 9 },
    ]);
  });

  it('poll should keep the last values when the broker does not answer', async () => {
    const { admin, state } = fakeAdmin(new Map([[0, '3']]), new Map());
    const p = new LagPoller(admin, 'g', 'in');
    await p.poll();
    state.fail = true;
    await expect(p.poll()).resolves.toBeUndefined();
    expect(p.last).toEqual([{ topic: 'in', partition: 0, lag: 3 }]);
  });

  it('poll should share one request between concurrent callers', async () => {
    const { admin, state } = fakeAdmin(new Map([[0, '1']]), new Map());
    const p = new LagPoller(admin, 'g', 'in');
    await Promise.all([p.poll(), p.poll(), p.poll()]);
    expect(state.calls).toBe(1);
  });

  it('close should stop polling and close the admin client once', async () => {
    const { admin, state } = fakeAdmin(new Map([[0, '1']]), new Map());
    const p = new LagPoller(admin, 'g', 'in');
    p.start(10);
    await new Promise((r) => setTimeout(r, 50));
    await Promise.all([p.close(), p.close()]);
    const calls = state.calls;
    expect(calls).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 40));
    expect(state.calls).toBe(calls);
    expect(state.closed).toBe(1);
  });
});

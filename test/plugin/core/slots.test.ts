import { describe, expect, it } from 'vitest';
import { Slots } from '../../../src/plugin/core/slots.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('Slots', () => {
  it('run should never let more than size calls execute at once, and start waiters in arrival order', async () => {
    const slots = new Slots(2);
    let running = 0, peak = 0;
    const started: number[] = [];
    const gates: (() => void)[] = [];
    const calls = [0, 1, 2, 3, 4].map((i) => slots.run(async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((r) => gates.push(r));
      running--;
      return i * 10;
    }));
    await tick();
    expect(started).toEqual([0, 1]);
    expect(slots.waiting).toBe(3);
    gates[1]();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    for (let k = 0; k < 5; k++) { gates[k]?.(); await tick(); }
    for (let k = 0; k < 5; k++) { gates[k]?.(); await tick(); }
    expect(await Promise.all(calls)).toEqual([0, 10, 20, 30, 40]);
    expect(peak).toBe(2);
    expect(slots.busy).toBe(0);
  });

  it('run should free the slot when the call throws', async () => {
    const slots = new Slots(1);
    await expect(slots.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(slots.busy).toBe(0);
    expect(await slots.run(async () => 'next')).toBe('next');
  });

  it('constructor should reject a size below one', () => {
    expect(() => new Slots(0)).toThrow(RangeError);
  });
});

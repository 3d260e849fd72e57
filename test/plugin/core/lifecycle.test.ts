import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../../src/plugin/core/lifecycle.js';

describe('Lifecycle', () => {
  it('close should run the hooks once, in reverse order of registration, for every caller', async () => {
    const life = new Lifecycle();
    const order: string[] = [];
    for (const n of ['models', 'stages', 'kafka']) life.onClose(n, async () => { order.push(n); });
    const [a, b] = await Promise.all([life.close(), life.close()]);
    await life.close();
    expect(order).toEqual(['kafka', 'stages', 'models']);
    expect(a).toBe(b);
    expect(a).toEqual({ failed: [], timedOut: [] });
  });

  it('close should go on past a failing hook and let go of one that outlives its timeout', async () => {
    const life = new Lifecycle();
    const order: string[] = [];
    life.onClose('first', () => { order.push('first'); });
    life.onClose('hangs', () => new Promise(() => {}), { timeoutMs: 20 });
    life.onClose('throws', () => { throw new Error('boom'); });
    const report = await life.close();
    expect(order).toEqual(['first']);
    expect(report.timedOut).toEqual(['hangs']);
    expect(report.failed.map((f) => f.name)).toEqual(['throws']);
  });

  it('onClose should refuse a hook once closing began', async () => {
    const life = new Lifecycle();
    void life.close();
    expect(life.closing).toBe(true);
    expect(() => life.onClose('late', () => {})).toThrow(/already closing/);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress, PROGRESS_LINE_INTERVAL_MS } from '../../../src/plugin/core/progress.js';

afterEach(() => { vi.useRealTimers(); });

describe('Progress', () => {
  it('tick should write a plain line every interval when stderr is not a terminal, and end a last one, without terminal codes', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const out: string[] = [];
    const tty = process.stderr.isTTY;
    process.stderr.isTTY = false;
    try {
      const p = new Progress(100, 'scoring', undefined, (s) => out.push(s));
      p.tick(10);
      expect(out).toEqual([]);
      vi.advanceTimersByTime(PROGRESS_LINE_INTERVAL_MS);
      p.tick(10);
      vi.advanceTimersByTime(PROGRESS_LINE_INTERVAL_MS / 2);
      p.tick(10);
      p.end();
    } finally {
      process.stderr.isTTY = tty;
    }
    expect(out).toEqual(['scoring: 20/100 (20 %), 2.0/s, 10 s\n', 'scoring: 30/100 (30 %), 2.0/s, 15 s, done\n']);
  });

  it('tick should draw a bar when forced, and nothing when disabled', () => {
    const bar: string[] = [];
    const off: string[] = [];
    const a = new Progress(2, 'x', true, (s) => bar.push(s));
    const b = new Progress(2, 'x', false, (s) => off.push(s));
    for (const p of [a, b]) { p.tick(2); p.end(); }
    expect(bar.join('')).toMatch(/^\rx \[#{30}\] 2\/2 .*\n$/);
    expect(off).toEqual([]);
  });
});

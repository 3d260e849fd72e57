import { describe, expect, it } from 'vitest';
import { mapSplit, splitDelta, THREAD_ROLES } from '../../../src/tools/bench/split.js';

describe('mapSplit', () => {
  it('mapSplit should give every thread role its value and nothing else', () => {
    expect(mapSplit((r) => r.length)).toEqual({ main: 4, inference: 9, libvips: 7, other: 5 });
    expect(Object.keys(mapSplit(() => 0))).toEqual([...THREAD_ROLES]);
  });
});

describe('splitDelta', () => {
  it('splitDelta should count each thread\'s own CPU between the samples, a new thread from 0 and a gone one not at all', () => {
    const a = [{ tid: 1, role: 'main' as const, ms: 100 }, { tid: 2, role: 'libvips' as const, ms: 40 }, { tid: 3, role: 'libvips' as const, ms: 30 }];
    // Thread 3 exited (its 30 ms went with it), thread 4 was born with 5 ms.
    const b = [{ tid: 1, role: 'main' as const, ms: 130 }, { tid: 2, role: 'libvips' as const, ms: 42 }, { tid: 4, role: 'libvips' as const, ms: 5 }];
    expect(splitDelta(a, b)).toEqual({ main: 30, inference: 0, libvips: 7, other: 0 });
  });

  it('splitDelta should count a reused thread id that reads less than before from 0', () => {
    expect(splitDelta([{ tid: 9, role: 'other', ms: 50 }], [{ tid: 9, role: 'other', ms: 8 }])).toEqual({ main: 0, inference: 0, libvips: 0, other: 8 });
  });
});

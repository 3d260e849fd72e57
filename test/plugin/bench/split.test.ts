import { describe, expect, it } from 'vitest';
import { mapSplit, THREAD_ROLES } from '../../../src/plugin/bench/split.js';

describe('mapSplit', () => {
  it('mapSplit should give every thread role its value and nothing else', () => {
    expect(mapSplit((r) => r.length)).toEqual({ main: 4, inference: 9, libvips: 7, other: 5 });
    expect(Object.keys(mapSplit(() => 0))).toEqual([...THREAD_ROLES]);
  });
});

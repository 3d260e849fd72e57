import { describe, expect, it } from 'vitest';
import { summariseProfile } from '../../../src/tools/bench/profile.js';

const node = (id: number, functionName: string, url = '', lineNumber = 0) => ({ id, callFrame: { functionName, url, lineNumber } });

describe('summariseProfile', () => {
  it('summariseProfile should attribute each sample\'s following interval by category and function, leaving idle out of busy', () => {
    const profile = {
      nodes: [
        node(1, '(idle)'),
        node(2, 'warpAffine', 'file:///repo/dist/src/plugin/face/align.js', 75),
        node(3, 'decode', 'file:///repo/node_modules/kafkajs/src/protocol/decoder.js', 9),
        node(4, '(garbage collector)'),
      ],
      // timeDeltas[i] precedes sample i: sample i owns timeDeltas[i + 1] (µs).
      samples: [2, 3, 2, 1, 4, 3],
      timeDeltas: [0, 1000, 500, 1500, 4000, 250, 0],
    };
    const s = summariseProfile(profile, 'p.cpuprofile');
    expect(s.totalMs).toBe(7.25);
    expect(s.busyMs).toBe(3.25); // all but the 4 ms of the idle sample
    expect(s.categories).toEqual([{ name: 'face: align/warp', ms: 2.5 }, { name: 'kafkajs', ms: 0.5 }, { name: '(garbage collector)', ms: 0.25 }]);
    expect(s.top[0]).toEqual({ fn: 'warpAffine face/align.js:76', ms: 2.5 });
  });
});

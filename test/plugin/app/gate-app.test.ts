import { describe, expect, it } from 'vitest';
import { chooseStages } from '../../../src/plugin/app/gate-app.js';
import type { Frame } from '../../../src/plugin/core/frame.js';
import type { Stage } from '../../../src/plugin/core/stage.js';

function stage(name: string, closed: string[]): Stage {
  return { name, process: async (b: Frame[]) => b, close: async () => { closed.push(name); } };
}

describe('chooseStages', () => {
  it('chooseStages should keep the defaults when no override is given', async () => {
    const closed: string[] = [];
    const defaults = ['decode', 'prepare', 'regress', 'decide'].map((n) => stage(n, closed));
    expect(await chooseStages(defaults, {})).toBe(defaults);
    expect(closed).toEqual([]);
  });

  it('chooseStages should run the override\'s stages and close the defaults it left out', async () => {
    const closed: string[] = [];
    const defaults = ['decode', 'prepare', 'regress', 'decide'].map((n) => stage(n, closed));
    const fixed = stage('fixed', closed);
    const chosen = await chooseStages(defaults, { stages: (s) => s.flatMap((x) => x.name === 'prepare' ? [] : x.name === 'regress' ? [fixed] : [x]) });
    expect(chosen.map((s) => s.name)).toEqual(['decode', 'fixed', 'decide']);
    expect(closed.sort()).toEqual(['prepare', 'regress']);
  });
});

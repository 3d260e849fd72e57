import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GATE_NODE_FLAGS, missingNodeFlags } from '../../../src/plugin/core/node-flags.js';
import { packageRoot } from '../../../src/plugin/core/paths.js';

const read = (...p: string[]) => readFileSync(path.join(packageRoot(), ...p), 'utf8');

describe('missingNodeFlags', () => {
  it('missingNodeFlags should list the gate flags a command line lacks, a flag with another value counting as set', () => {
    expect(missingNodeFlags([])).toEqual([...GATE_NODE_FLAGS]);
    expect(missingNodeFlags(['--trace-gc', ...GATE_NODE_FLAGS])).toEqual([]);
    expect(missingNodeFlags(GATE_NODE_FLAGS.map((f) => `${f.split('=')[0]}=256`))).toEqual([]);
  });

  it('every launcher of the gate should pass the flags: shebang, Dockerfiles, npm demo script', () => {
    const launchers = {
      shebang: read('src/plugin/cli/bin.ts').split('\n')[0],
      dockerfile: read('deploy/docker/Dockerfile').split('\n').find((l) => l.startsWith('ENTRYPOINT')) ?? '',
      'dockerfile.cuda': read('deploy/docker/Dockerfile.cuda').split('\n').find((l) => l.startsWith('ENTRYPOINT')) ?? '',
      demo: (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.demo,
    };
    for (const [name, line] of Object.entries(launchers)) {
      const args = line.replace(/[[\]",]/g, ' ').split(/\s+/);
      expect(missingNodeFlags(args), `${name}: ${line}`).toEqual([]);
    }
  });
});

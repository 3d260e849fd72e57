import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/plugin/core/paths.js';

describe('restartWithNodeFlags', () => {
  // Started as `node bin.js` (no shebang flags), bench runs in a restarted process (its report's
  // header names the flags): a wrong script path or a lost exit status would change this status.
  it('bin should pass on the exit status of bench, which it runs in a process restarted with the flags', () => {
    const r = spawnSync(process.execPath, [path.join(packageRoot(), 'dist/src/plugin/cli/bin.js'), 'bench', '--only', 'nope'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--only takes bare, gate, peer, diffusion; not nope');
  });
});

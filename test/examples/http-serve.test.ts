/**
 * examples/http-serve: `diffiqa-gate serve` as a process (the built CLI), called by the example's
 * client; SIGTERM stops it cleanly.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scoreOverHttp } from '../../examples/http-serve/client.js';
import { packageRoot } from '../../src/plugin/core/paths.js';
import { sharedDir, sharedPath } from '../helpers/shared.js';
import { waitFor } from '../helpers/gate-harness.js';

describe('example: diffiqa-gate serve', () => {
  it('serve should score an image over HTTP, answer a coded error for a bad one, and exit 0 on SIGTERM', async () => {
    const bin = path.join(packageRoot(), 'dist', 'src', 'plugin', 'cli', 'bin.js');
    const child = spawn(process.execPath, ['--initial-old-space-size=64', bin, 'serve'], {
      env: { ...process.env, DIFFIQA_GATE__SERVE__PORT: '0', DIFFIQA_GATE__SERVE__HOST: '127.0.0.1', DIFFIQA_GATE__MODELS__MIRROR: sharedDir(), DIFFIQA_GATE__INFERENCE__WORKERS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += String(d); });
    try {
      await waitFor('serve listening', () => stderr.includes('scoring on POST /score'), 60_000);
      const line = stderr.split('\n').find((l) => l.includes('scoring on POST /score'))!;
      const { address } = JSON.parse(line) as { address: { address: string; port: number; family: string }[] };
      const url = `http://127.0.0.1:${address.find((a) => a.family === 'IPv4')!.port}`;

      const ok = await scoreOverHttp(url, readFileSync(sharedPath('data', 'lfw', 'Aaron_Eckhart', 'Aaron_Eckhart_0001.jpg')), { frameId: 'a' });
      expect(ok).toMatchObject({ id: 'a', score: expect.any(Number), decision: expect.stringMatching(/^(ACCEPT|REJECT|BORDERLINE)$/) });
      const bad = await scoreOverHttp(url, Buffer.from('not an image'));
      expect(bad.error).toMatchObject({ code: 'INPUT_IMAGE_FORMAT', canRetry: false });
    } finally {
      child.kill('SIGTERM');
    }
    const code = child.exitCode ?? (await once(child, 'exit'))[0];
    expect(code, stderr).toBe(0);
  });
});

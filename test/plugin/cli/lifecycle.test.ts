/**
 * serve() in a process of its own (the built module): what ends a running service and with which
 * exit code. A child, because the handlers under test are the process's own.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/plugin/core/paths.js';

/** Runs serve() on a service whose start schedules `act`; resolves with the exit code and stderr. */
async function runServe(act: string): Promise<{ code: number | null; stderr: string }> {
  const dist = (f: string) => pathToFileURL(path.join(packageRoot(), 'dist', 'src', 'plugin', f)).href;
  const script = `
    const { serve } = await import(${JSON.stringify(dist('cli/lifecycle.js'))});
    const { createLogger } = await import(${JSON.stringify(dist('core/log.js'))});
    const log = createLogger('info', 'test');
    const code = await serve('run', log, async () => {
      const alive = setInterval(() => {}, 1000); // as a running service's sockets
      setTimeout(() => { ${act} }, 50);
      return { failed: new Promise(() => {}), stop: async () => { clearInterval(alive); return true; } };
    }, async () => {});
    process.exit(code);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

describe('serve', () => {
  it('serve should end a service on an uncaught throw with exit 4 and a coded fatal line, not a bare stack trace', async () => {
    const { code, stderr } = await runServe(`throw new TypeError("Cannot set properties of undefined (setting '1')")`);
    expect(code).toBe(4);
    const fatal = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 60);
    expect(fatal).toMatchObject({ code: 'INTERNAL', msg: 'run stopped: an error escaped every handler' });
    expect(String(fatal!.err)).toContain("uncaught: Cannot set properties of undefined (setting '1')");
    expect(stderr).toContain("diffiqa-gate run: [INTERNAL] uncaught: Cannot set properties of undefined (setting '1')");
  });

  it('serve should drain and exit 0 on SIGTERM', async () => {
    const { code, stderr } = await runServe('process.kill(process.pid, "SIGTERM")');
    expect(code).toBe(0);
    expect(stderr).toContain('stopping: draining in-flight frames');
  });
});

import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../../../src/tools/demo/broker.js';

const root = path.resolve(import.meta.dirname, '../../..');
const KAFKA_VERSION = process.env.KAFKA_VERSION ?? '4.4.0';

/** Holds 127.0.0.1:9092 for the test; undefined when something else holds it already (the same situation for the demo). */
async function hold9092(): Promise<Server | undefined> {
  const s = createServer((sock) => sock.destroy());
  return new Promise((resolve, reject) => {
    s.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err)));
    s.listen(9092, '127.0.0.1', () => resolve(s));
  });
}

const accepts = (port: number) => new Promise<boolean>((resolve) => {
  const c = createConnection({ host: '127.0.0.1', port }, () => { c.destroy(); resolve(true); });
  c.once('error', () => resolve(false));
});

function runDemo(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // The CLI as `npm run demo` starts it (after its build): node with the bin's flag, output into a pipe.
    const child = spawn(process.execPath, ['--initial-old-space-size=64', path.join(root, 'dist/src/plugin/cli/bin.js'), 'demo', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('demo broker', () => {
  it('freePorts should return distinct ports that accept a listener', async () => {
    const ports = await freePorts(2);
    expect(new Set(ports).size).toBe(2);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });

  it('demo should complete on its own broker on free ports while another process holds 127.0.0.1:9092', async () => {
    if (!existsSync(path.join(root, 'dist/src/plugin/cli/bin.js'))) throw new Error('dist/src/plugin/cli/bin.js is missing: run `npm run build` first');
    // The jars once, where every run of broker.sh finds them (a no-op when installed).
    execFileSync(path.join(root, 'deploy/kafka/broker.sh'), ['install'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
    // A broker cache of its own, sharing only the jars: in this checkout 9092 may be the test suite's
    // broker, which the demo would rightly reuse (broker.sh knows its pid); here, as on a fresh
    // clone beside another Kafka, broker.sh has no broker of its own on 9092 and finds the port taken.
    const cache = await mkdtemp(path.join(os.tmpdir(), 'diffiqa-demo-broker-'));
    await symlink(path.join(root, '.cache/kafka', KAFKA_VERSION), path.join(cache, KAFKA_VERSION));
    const holder = await hold9092();
    try {
      expect(await accepts(9092)).toBe(true);
      const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_HOME_CACHE: cache };
      for (const k of ['DIFFIQA_GATE__KAFKA__BROKERS', 'KAFKA_PORT', 'KAFKA_CONTROLLER_PORT']) delete env[k];
      const r = await runDemo(env, ['--frames', '16', '--rate', '20']);
      const why = `exit ${r.code}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`;
      const drawn = /port 9092 is already in use by another process: starting the demo's own broker on 127\.0\.0\.1:(\d+) \(controller (\d+)\)/.exec(r.stderr);
      expect(drawn, why).not.toBeNull();
      expect(Number(drawn![1])).not.toBe(9092);
      expect(r.stdout, why).toContain('every frame accounted for: yes');
      expect(r.stdout, why).toMatch(/summary: 16 frames sent/);
      expect(r.code, why).toBe(0);
      // Its broker stopped and its run folder removed; whatever held 9092 still does.
      expect(await accepts(Number(drawn![1]))).toBe(false);
      expect(await readdir(cache)).toEqual([KAFKA_VERSION]);
      expect(await accepts(9092)).toBe(true);

      // A run that fails after its broker started (a model that does not exist) stops that broker too.
      const failed = await runDemo({ ...env, DIFFIQA_GATE__MODELS__REGRESSOR: 'no-such-model' }, ['--frames', '16']);
      const whyFailed = `exit ${failed.code}\n--- stderr\n${failed.stderr}`;
      const drawnAgain = /starting the demo's own broker on 127\.0\.0\.1:(\d+)/.exec(failed.stderr);
      expect(drawnAgain, whyFailed).not.toBeNull();
      expect(failed.code, whyFailed).not.toBe(0);
      expect(await accepts(Number(drawnAgain![1]))).toBe(false);
      expect(await readdir(cache)).toEqual([KAFKA_VERSION]);
    } finally {
      await new Promise((r) => (holder ? holder.close(r) : r(undefined)));
      await rm(cache, { recursive: true, force: true });
    }
  }, 600_000);
});

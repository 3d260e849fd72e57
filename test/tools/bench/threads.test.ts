import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { currentThreadId, threadCpu, threadIds, watchNewThreads } from '../../../src/tools/bench/threads.js';
import { sharedDir } from '../../helpers/shared.js';

// The bench's per-thread split needs Linux /proc; CI and the bench hosts are Linux.
describe('threads', () => {
  it('currentThreadId should be the process id on the main thread and another live id in a worker', async () => {
    expect(currentThreadId()).toBe(process.pid);
    const worker = new Worker(
      "const { readlinkSync } = require('node:fs'); require('node:worker_threads').parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));",
      { eval: true },
    );
    const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
    expect(threadIds()).toContain(tid);
    expect(tid).not.toBe(process.pid);
    await worker.terminate();
  });

  it('threadCpu should charge busy time to the thread that spent it', () => {
    const main = () => threadCpu().find((t) => t.tid === process.pid)!;
    const before = main();
    const until = performance.now() + 200;
    while (performance.now() < until) { /* spin on this thread */ }
    const after = main();
    expect(before.name.length).toBeGreaterThan(0);
    expect(after.ms - before.ms).toBeGreaterThanOrEqual(100);
    expect(threadCpu().every((t) => t.ms >= 0)).toBe(true);
  });

  it('threadCpu should read another process by its pid (the perf harness reads the gate child)', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['-e', 'const t = Date.now() + 400; while (Date.now() < t); setTimeout(() => {}, 5000);']);
    try {
      await new Promise((r) => setTimeout(r, 600));
      const threads = threadCpu(child.pid!);
      expect(threads.map((t) => t.tid)).toContain(child.pid);
      expect(threads.find((t) => t.tid === child.pid)!.ms).toBeGreaterThanOrEqual(200);
      expect(threadCpu(process.pid).map((t) => t.tid)).toContain(process.pid);
    } finally {
      child.kill();
    }
  });

  it('watchNewThreads should list the threads a model runtime starts (its workers), live and not the main one', async () => {
    const newThreads = await watchNewThreads();
    const rt = new ModelRuntime({ workers: 2, mirrorDir: sharedDir() });
    try {
      await rt.load('diffiqa-r-own');
      const ids = newThreads();
      expect(ids.length).toBeGreaterThanOrEqual(2);
      expect(ids).not.toContain(process.pid);
      const live = new Set(threadIds());
      for (const id of ids) expect(live.has(id)).toBe(true);
    } finally {
      await rt.close();
    }
  });
});

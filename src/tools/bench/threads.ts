import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { stat } from 'node:fs/promises';

/**
 * Per-thread accounting from Linux /proc, so the bench can split a process's CPU by thread role
 * (event loop, inference, libvips, the rest). Everything returns empty/undefined off Linux.
 */
export interface ThreadCpu { tid: number; name: string; ms: number }

/** The thread ids of this process (or of process `pid`) now. */
export function threadIds(pid: number | 'self' = 'self'): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** The kernel thread id of the calling thread (a worker thread sees its own). */
export function currentThreadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}

/** utime + stime of every thread of this process (or of `pid`) in ms (the kernel counts in clock ticks of 10 ms). */
export function threadCpu(pid: number | 'self' = 'self'): ThreadCpu[] {
  const out: ThreadCpu[] = [];
  for (const tid of threadIds(pid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ tid, name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms: (Number(f[11]) + Number(f[12])) * 10 });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * Starts watching for the threads this process starts from now on; the function returned lists
 * them (libvips' own, named so, left out). The gate child calls it before startGate and reads it
 * once the models are loaded: the inference workers and the onnxruntime threads their sessions
 * started, which is what the bench counts as inference CPU. libuv starts its whole thread pool at
 * the first work queued to it, so some is queued first, lest its threads be taken for new ones.
 */
export async function watchNewThreads(): Promise<() => number[]> {
  await stat(process.cwd());
  const before = new Set(threadIds());
  return () => threadCpu().filter((t) => !before.has(t.tid) && !t.name.startsWith('libvips')).map((t) => t.tid);
}

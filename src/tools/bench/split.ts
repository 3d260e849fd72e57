import { median } from './stats.js';

/**
 * The gate's CPU by thread role. main: the event loop (Kafka, Avro, alignment's warp, the gate);
 * inference: the pool's worker threads and ORT's intra-op threads; libvips: its decode workers;
 * other: libuv's pool (sharp's pipelines) and V8's helpers (GC, compiler).
 */
export interface ThreadSplit { main: number; inference: number; libvips: number; other: number }

export type ThreadRole = keyof ThreadSplit;

export const THREAD_ROLES: readonly ThreadRole[] = Object.freeze(['main', 'inference', 'libvips', 'other']);

/** A split with `f(role)` for each role. */
export function mapSplit(f: (role: ThreadRole) => number): ThreadSplit {
  return Object.fromEntries(THREAD_ROLES.map((r) => [r, f(r)])) as unknown as ThreadSplit;
}

/** Each role's median over the runs that have a split; undefined when none has (no /proc). */
export function medianSplit(runs: (ThreadSplit | undefined)[]): ThreadSplit | undefined {
  const have = runs.filter((r) => r !== undefined);
  if (!have.length) return undefined;
  return mapSplit((k) => median(have.map((r) => r[k])));
}

/** One thread's CPU ms so far, with its role. */
export interface ThreadSample { tid: number; role: ThreadRole; ms: number }

/**
 * CPU ms of each role between two samples, thread by thread: a thread born since `a` counts from 0,
 * and one gone by `b` counts nothing (its last part is not known). Summing roles first and
 * subtracting the sums made a role negative when its threads exited between the samples (libvips
 * lets idle workers go: −0.21 ms a frame for an iResNet-100 run, 2026-12-06).
 */
export function splitDelta(a: readonly ThreadSample[], b: readonly ThreadSample[]): ThreadSplit {
  const before = new Map(a.map((t) => [t.tid, t.ms]));
  const split = mapSplit(() => 0);
  for (const t of b) {
    const was = before.get(t.tid);
    // A tid the kernel gave to a new thread reads less than the old one did: counted from 0.
    split[t.role] += was === undefined || t.ms < was ? t.ms : t.ms - was;
  }
  return split;
}

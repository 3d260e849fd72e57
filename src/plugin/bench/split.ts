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

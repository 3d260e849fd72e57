/** Small statistics for benchmarks on a noisy shared machine: medians over repeats, never means. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p in 0..100): a value that really occurred, as latency reports use. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** CPU time of the whole process (every thread: ORT, libvips, libuv pool) since `from`, ms. */
export function cpuMsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

export interface Sample { wallMs: number; cpuMs: number }

/** Wall and process CPU time of one call. */
export async function measure(fn: () => Promise<unknown>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  return { wallMs: performance.now() - t0, cpuMs: cpuMsSince(cpu0) };
}

/** `repeats` measurements of `fn`, each divided by `per` (e.g. images per call). */
export async function repeatPer(repeats: number, per: number, fn: () => Promise<unknown>): Promise<{ wallMs: number[]; cpuMs: number[] }> {
  const wallMs: number[] = [], cpuMs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const s = await measure(fn);
    wallMs.push(s.wallMs / per);
    cpuMs.push(s.cpuMs / per);
  }
  return { wallMs, cpuMs };
}

/** Median wall and CPU ms per item, with the runs they come from (so noise stays visible). */
export interface PerItem { msPerImage: number; cpuMsPerImage: number; runsMs: number[] }

export function summarise(r: { wallMs: number[]; cpuMs: number[] }): PerItem {
  return { msPerImage: median(r.wallMs), cpuMsPerImage: median(r.cpuMs), runsMs: r.wallMs.map((x) => round(x, 3)) };
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

import type { Meter } from '@opentelemetry/api';
import { monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

const GC_SECONDS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1];
const GC_KINDS: Record<number, string> = { 1: 'scavenge', 2: 'mark_sweep_compact', 4: 'incremental_marking', 8: 'process_weak_callbacks', 15: 'all' };

/**
 * Process and Node.js runtime metrics from node's own sources (no timer of ours; read at
 * collection): memory, CPU time, event-loop delay, garbage collections. Names follow the
 * Prometheus client conventions (process_*, nodejs_*), so the usual dashboards and alerts apply.
 * Returns a stop function (GC observer, event-loop histogram).
 */
export function runtimeMetrics(meter: Meter): () => void {
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  meter.createObservableGauge('process_resident_memory_bytes', { unit: 'By', description: 'resident set size' })
    .addCallback((r) => r.observe(process.memoryUsage.rss()));
  meter.createObservableGauge('nodejs_memory_bytes', { unit: 'By', description: 'V8 heap used and total, external and array buffers' })
    .addCallback((r) => {
      const m = process.memoryUsage();
      r.observe(m.heapUsed, { type: 'heap_used' });
      r.observe(m.heapTotal, { type: 'heap_total' });
      r.observe(m.external, { type: 'external' });
      r.observe(m.arrayBuffers, { type: 'array_buffers' });
    });
  meter.createObservableCounter('process_cpu_seconds', { unit: 's', description: 'CPU time of the process (all threads: the inference workers too), by mode' })
    .addCallback((r) => {
      const c = process.cpuUsage();
      r.observe(c.user / 1e6, { mode: 'user' });
      r.observe(c.system / 1e6, { mode: 'system' });
    });
  // Percentiles since the last collection: the histogram is reset once read, so each scrape sees its own interval.
  meter.createObservableGauge('nodejs_eventloop_delay_seconds', { unit: 's', description: 'event-loop delay since the previous collection (p50, p99, max)' })
    .addCallback((r) => {
      if (loop.count > 0) {
        r.observe(loop.percentile(50) / 1e9, { quantile: '0.5' });
        r.observe(loop.percentile(99) / 1e9, { quantile: '0.99' });
        r.observe(loop.max / 1e9, { quantile: '1' });
      }
      loop.reset();
    });
  const gc = meter.createHistogram('nodejs_gc_duration_seconds', { unit: 's', description: 'garbage collection pauses of the main thread, by kind', advice: { explicitBucketBoundaries: GC_SECONDS } });
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
      gc.record(e.duration / 1000, { kind: GC_KINDS[e.detail?.kind ?? 0] ?? 'other' });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    loop.disable();
  };
}

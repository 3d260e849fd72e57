import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { PrometheusReader } from '../../../src/plugin/telemetry/prometheus.js';

let provider: MeterProvider | undefined;
afterEach(async () => { await provider?.shutdown(); provider = undefined; });

function setup() {
  const reader = new PrometheusReader();
  provider = new MeterProvider({ readers: [reader] });
  return { reader, meter: provider.getMeter('t') };
}

describe('PrometheusReader', () => {
  it('render should write counters with _total, HELP and TYPE lines', async () => {
    const { reader, meter } = setup();
    const c = meter.createCounter('jobs', { description: 'jobs done' });
    c.add(2, { kind: 'a' });
    c.add(3, { kind: 'a' });
    c.add(1, { kind: 'b' });
    const text = await reader.render();
    expect(text).toContain('# HELP jobs_total jobs done\n# TYPE jobs_total counter\n');
    expect(text).toContain('jobs_total{kind="a"} 5\n');
    expect(text).toContain('jobs_total{kind="b"} 1\n');
  });

  it('render should write cumulative histogram buckets, sum and count', async () => {
    const { reader, meter } = setup();
    const h = meter.createHistogram('latency_seconds', { advice: { explicitBucketBoundaries: [0.1, 1] } });
    for (const v of [0.05, 0.5, 0.7, 3]) h.record(v, { stage: 's' });
    const text = await reader.render();
    expect(text).toContain('# TYPE latency_seconds histogram');
    expect(text).toContain('latency_seconds_bucket{stage="s",le="0.1"} 1\n');
    expect(text).toContain('latency_seconds_bucket{stage="s",le="1"} 3\n');
    expect(text).toContain('latency_seconds_bucket{stage="s",le="+Inf"} 4\n');
    expect(text).toMatch(/latency_seconds_sum\{stage="s"\} 4\.25\d*\n/);
    expect(text).toContain('latency_seconds_count{stage="s"} 4\n');
  });

  it('render should write gauges and up-down counters as gauges', async () => {
    const { reader, meter } = setup();
    meter.createObservableGauge('depth').addCallback((r) => r.observe(7, { model: 'm' }));
    const ud = meter.createUpDownCounter('inflight');
    ud.add(5);
    ud.add(-2);
    const text = await reader.render();
    expect(text).toContain('# TYPE depth gauge\ndepth{model="m"} 7\n');
    expect(text).toContain('# TYPE inflight gauge\ninflight 3\n');
  });

  it('render should escape label values and sanitise names', async () => {
    const { reader, meter } = setup();
    meter.createCounter('odd.name-here').add(1, { 'camera.id': 'a"b\\c\nd' });
    const text = await reader.render();
    expect(text).toContain('odd_name_here_total{camera_id="a\\"b\\\\c\\nd"} 1\n');
  });

  it('render should return nothing when no instrument has data', async () => {
    const { reader } = setup();
    expect(await reader.render()).toBe('');
  });
});

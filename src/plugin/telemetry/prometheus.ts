import type { Attributes } from '@opentelemetry/api';
import { DataPointType, MetricReader, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/**
 * A pull reader rendering the Prometheus text format (0.0.4) for our own /metrics route.
 * Written here rather than taken from @opentelemetry/exporter-prometheus, whose releases pin
 * another sdk-metrics patch version than the one this package runs, and which wants its own server.
 */
export class PrometheusReader extends MetricReader {
  async render(): Promise<string> {
    const { resourceMetrics } = await this.collect();
    return renderPrometheus(resourceMetrics);
  }

  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/^([0-9])/, '_$1');
const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labels(attrs: Attributes, extra: Record<string, string> = {}): string {
  const parts = Object.entries(attrs)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${sanitize(k)}="${escapeLabel(Array.isArray(v) ? v.join(',') : String(v))}"`);
  for (const [k, v] of Object.entries(extra)) parts.push(`${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function renderMetric(m: MetricData): string[] {
  const base = sanitize(m.descriptor.name);
  const help = m.descriptor.description ? escapeHelp(m.descriptor.description) : base;
  const lines: string[] = [];
  switch (m.dataPointType) {
    case DataPointType.SUM: {
      // Monotonic sums are counters (`_total`); up-down counters read as gauges.
      const name = m.isMonotonic ? (base.endsWith('_total') ? base : `${base}_total`) : base;
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${m.isMonotonic ? 'counter' : 'gauge'}`);
      for (const p of m.dataPoints) lines.push(`${name}${labels(p.attributes)} ${num(p.value)}`);
      break;
    }
    case DataPointType.GAUGE:
      lines.push(`# HELP ${base} ${help}`, `# TYPE ${base} gauge`);
      for (const p of m.dataPoints) lines.push(`${base}${labels(p.attributes)} ${num(p.value)}`);
      break;
    case DataPointType.HISTOGRAM:
      lines.push(`# HELP ${base} ${help}`, `# TYPE ${base} histogram`);
      for (const p of m.dataPoints) {
        const { boundaries, counts } = p.value.buckets;
        let cumulative = 0;
        boundaries.forEach((b, i) => {
          cumulative += counts[i];
          lines.push(`${base}_bucket${labels(p.attributes, { le: num(b) })} ${cumulative}`);
        });
        lines.push(`${base}_bucket${labels(p.attributes, { le: '+Inf' })} ${p.value.count}`);
        lines.push(`${base}_sum${labels(p.attributes)} ${num(p.value.sum ?? 0)}`);
        lines.push(`${base}_count${labels(p.attributes)} ${p.value.count}`);
      }
      break;
    default:
      // Exponential histograms are not configured anywhere in this package.
      break;
  }
  return lines;
}

export function renderPrometheus(rm: ResourceMetrics): string {
  const lines: string[] = [];
  for (const scope of rm.scopeMetrics) for (const m of scope.metrics) lines.push(...renderMetric(m));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

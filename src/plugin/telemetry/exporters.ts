import { ExportResultCode, getNumberFromEnv, getStringFromEnv, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter, OTLPMetricExporterBase } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { MetricsExporterMetricsHelper, ProtobufMetricsSerializer, ProtobufTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { GateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';

export type Signal = 'traces' | 'metrics';
const PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export type OtlpProtocol = (typeof PROTOCOLS)[number];

/**
 * OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else the
 * specification's default http/protobuf. An unknown value stops the start: a typo must not
 * quietly send telemetry somewhere the collector does not listen.
 */
export function otlpProtocol(signal: Signal): OtlpProtocol {
  const key = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_PROTOCOL`;
  const v = getStringFromEnv(key) ?? getStringFromEnv('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  if (!(PROTOCOLS as readonly string[]).includes(v)) throw new GateError('CONFIG_INVALID', `${key} / OTEL_EXPORTER_OTLP_PROTOCOL: "${v}" is none of ${PROTOCOLS.join(', ')}`);
  return v as OtlpProtocol;
}

/**
 * Where OTLP sends a signal, as the exporter will resolve it (for the start-up log line and the
 * failure log). gRPC takes the endpoint as is (the service path is in the method, default port
 * 4317); HTTP appends /v1/<signal> to the base endpoint (default port 4318), a per-signal endpoint is used verbatim.
 */
export function otlpEndpoint(signal: Signal): string {
  const grpc = otlpProtocol(signal) === 'grpc';
  const own = getStringFromEnv(`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`);
  if (own) return own;
  const base = getStringFromEnv('OTEL_EXPORTER_OTLP_ENDPOINT') ?? (grpc ? 'http://localhost:4317' : 'http://localhost:4318');
  return grpc ? base : `${base.replace(/\/$/, '')}/v1/${signal}`;
}

/** OTEL_METRIC_EXPORT_INTERVAL / _TIMEOUT (ms), the SDK defaults 60000 / 30000 otherwise. */
export function metricExportTiming(): { exportIntervalMillis: number; exportTimeoutMillis: number } {
  const interval = getNumberFromEnv('OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
  const timeout = Math.min(getNumberFromEnv('OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000, interval);
  if (!(interval > 0)) throw new GateError('CONFIG_INVALID', `OTEL_METRIC_EXPORT_INTERVAL must be a positive number of milliseconds, got ${interval}`);
  return { exportIntervalMillis: interval, exportTimeoutMillis: timeout };
}

/** The protobuf exporters are the HTTP exporters with another serializer, as @opentelemetry/exporter-*-otlp-proto build them. */
class ProtobufSpanExporter extends OTLPExporterBase<ReadableSpan[]> {
  constructor() {
    super(createOtlpHttpExportDelegate(convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }), ProtobufTraceSerializer, 'otlp_http_span_exporter', TraceExporterMetricsHelper, undefined));
  }
}

class ProtobufMetricExporter extends OTLPMetricExporterBase {
  constructor() {
    super(createOtlpHttpExportDelegate(convertLegacyHttpOptions({}, 'METRICS', 'v1/metrics', { 'Content-Type': 'application/x-protobuf' }), ProtobufMetricsSerializer, 'otlp_http_metric_exporter', MetricsExporterMetricsHelper, undefined));
  }
}

/**
 * Failed OTLP exports, counted per signal and logged: the first at once, then at most one line a
 * minute with the count since the last. A collector that is down must be visible, not flood the log.
 */
export class ExportFailures {
  readonly counts: Record<Signal, number> = { traces: 0, metrics: 0 };
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #lastLog: Record<Signal, number> = { traces: -Infinity, metrics: -Infinity };
  readonly #unlogged: Record<Signal, number> = { traces: 0, metrics: 0 };

  constructor(log: Logger, intervalMs = 60_000) {
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  record(signal: Signal, error: Error | undefined, now = Date.now()): void {
    this.counts[signal]++;
    this.#unlogged[signal]++;
    if (now - this.#lastLog[signal] < this.#intervalMs) return;
    this.#log.warn({ component: 'telemetry', signal, endpoint: otlpEndpoint(signal), failures: this.#unlogged[signal], total: this.counts[signal], err: error?.message }, `OTLP ${signal} export failed`);
    this.#lastLog[signal] = now;
    this.#unlogged[signal] = 0;
  }

  /** Calls back with the result, after counting it when it failed. */
  watch(signal: Signal, cb: (r: ExportResult) => void): (r: ExportResult) => void {
    return (r) => {
      if (r.code !== ExportResultCode.SUCCESS) this.record(signal, r.error);
      cb(r);
    };
  }
}

function spanExporterFor(protocol: OtlpProtocol): SpanExporter {
  if (protocol === 'grpc') return new GrpcTraceExporter();
  return protocol === 'http/json' ? new OTLPTraceExporter() : new ProtobufSpanExporter();
}

function metricExporterFor(protocol: OtlpProtocol): PushMetricExporter {
  if (protocol === 'grpc') return new GrpcMetricExporter();
  return protocol === 'http/json' ? new OTLPMetricExporter() : new ProtobufMetricExporter();
}

/**
 * The OTLP span exporter for the configured protocol, its failures counted. Endpoint, headers,
 * timeout, compression and (gRPC) TLS come from OTEL_EXPORTER_OTLP_* through the exporter itself.
 */
export function otlpSpanExporter(failures: ExportFailures): SpanExporter {
  const inner = spanExporterFor(otlpProtocol('traces'));
  return {
    export: (spans, cb) => inner.export(spans, failures.watch('traces', cb)),
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

/** The OTLP metric exporter for the configured protocol, its failures counted. */
export function otlpMetricExporter(failures: ExportFailures): PushMetricExporter {
  const inner = metricExporterFor(otlpProtocol('metrics'));
  return {
    export: (metrics: ResourceMetrics, cb) => inner.export(metrics, failures.watch('metrics', cb)),
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush(),
    selectAggregationTemporality: inner.selectAggregationTemporality?.bind(inner),
    selectAggregation: inner.selectAggregation?.bind(inner),
  };
}

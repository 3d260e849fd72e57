import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { ExportFailures, metricExportTiming, otlpEndpoint, otlpMetricExporter, otlpProtocol } from '../../../src/plugin/telemetry/exporters.js';
import { createTracerProvider } from '../../../src/plugin/telemetry/tracing.js';
import type { Logger } from '../../../src/plugin/core/log.js';
import { grpcReceiver } from './otlp-grpc-receiver.js';

const KEYS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'OTEL_TRACES_EXPORTER', 'OTEL_METRIC_EXPORT_INTERVAL', 'OTEL_METRIC_EXPORT_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'];
const saved = Object.fromEntries(KEYS.map((k) => [k, process.env[k]]));
afterEach(() => { for (const k of KEYS) { if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k]; } });

function memoryLog(): { log: Logger; warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  return { log: { warn: (o: Record<string, unknown>, msg: string) => { warnings.push({ ...o, msg }); } } as unknown as Logger, warnings };
}

/** A local OTLP/HTTP receiver: records path and content type of every request, answers 200. */
async function receiver(): Promise<{ server: Server; url: string; got: { path: string; type: string; bytes: number }[] }> {
  const got: { path: string; type: string; bytes: number }[] = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => { bytes += c.length; });
    req.on('end', () => { got.push({ path: req.url ?? '', type: String(req.headers['content-type']), bytes }); res.writeHead(200, { 'content-type': String(req.headers['content-type']) }).end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

async function sendSpan(failures: ExportFailures): Promise<void> {
  const provider = createTracerProvider(resourceFromAttributes({ 'service.name': 't' }), undefined, failures)!;
  provider.getTracer('t').startSpan('one').end();
  // A failed export also rejects the flush: what counts here is what the failures saw.
  await provider.forceFlush().catch(() => undefined);
  await provider.shutdown().catch(() => undefined);
}

/** One counter exported once through otlpMetricExporter by the SDK's periodic reader (its shutdown collects and exports). */
async function sendMetric(failures: ExportFailures): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter: otlpMetricExporter(failures), exportIntervalMillis: 60_000, exportTimeoutMillis: 10_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 't' }), readers: [reader] });
  provider.getMeter('t').createCounter('diffiqa_test_frames').add(3);
  await provider.shutdown().catch(() => undefined);
}

describe('OTLP exporters', () => {
  it.each([['http/protobuf', 'application/x-protobuf'], ['http/json', 'application/json']])('otlpSpanExporter should send spans over %s to a local receiver', async (protocol, type) => {
    const r = await receiver();
    try {
      Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_TRACES_EXPORTER: 'otlp' });
      const { log, warnings } = memoryLog();
      const failures = new ExportFailures(log);
      await sendSpan(failures);
      expect(r.got).toEqual([expect.objectContaining({ path: '/v1/traces', type })]);
      expect(r.got[0].bytes).toBeGreaterThan(0);
      expect(failures.counts.traces).toBe(0);
      expect(warnings).toEqual([]);
    } finally {
      r.server.close();
    }
  });

  it('otlpSpanExporter should count and log an export to an unreachable endpoint', async () => {
    const r = await receiver();
    r.server.close();
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TIMEOUT: '2000' });
    const { log, warnings } = memoryLog();
    const failures = new ExportFailures(log);
    await sendSpan(failures);
    expect(failures.counts.traces).toBe(1);
    expect(warnings).toEqual([expect.objectContaining({ signal: 'traces', endpoint: `${r.url}/v1/traces`, failures: 1, msg: 'OTLP traces export failed' })]);
  }, 20_000);

  it('otlpSpanExporter and otlpMetricExporter should send spans and metrics over grpc to a local OTLP/gRPC receiver', async () => {
    const r = await grpcReceiver();
    try {
      Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_EXPORTER: 'otlp' });
      const { log, warnings } = memoryLog();
      const failures = new ExportFailures(log);
      await sendSpan(failures);
      await sendMetric(failures);
      expect(r.got).toEqual([
        expect.objectContaining({ service: 'traces', names: ['one'] }),
        expect.objectContaining({ service: 'metrics', names: ['diffiqa_test_frames'] }),
      ]);
      expect(failures.counts).toEqual({ traces: 0, metrics: 0 });
      expect(warnings).toEqual([]);
    } finally {
      await r.close();
    }
  }, 20_000);

  it('otlpMetricExporter should take OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=grpc over an http/protobuf default', async () => {
    const r = await grpcReceiver();
    try {
      Object.assign(process.env, { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' });
      const failures = new ExportFailures(memoryLog().log);
      await sendMetric(failures);
      expect(r.got.map((g) => g.service)).toEqual(['metrics']);
      expect(failures.counts.metrics).toBe(0);
    } finally {
      await r.close();
    }
  }, 20_000);

  it('otlpSpanExporter and otlpMetricExporter should count and log exports to an unreachable grpc endpoint', async () => {
    const r = await grpcReceiver();
    await r.close();
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TIMEOUT: '2000' });
    const { log, warnings } = memoryLog();
    const failures = new ExportFailures(log);
    await sendSpan(failures);
    await sendMetric(failures);
    expect(failures.counts).toEqual({ traces: 1, metrics: 1 });
    expect(warnings).toEqual([
      expect.objectContaining({ signal: 'traces', endpoint: r.url, failures: 1, msg: 'OTLP traces export failed' }),
      expect.objectContaining({ signal: 'metrics', endpoint: r.url, failures: 1, msg: 'OTLP metrics export failed' }),
    ]);
  }, 30_000);

  it('ExportFailures should log the first failure at once and then at most once an interval, with the count since', () => {
    const { log, warnings } = memoryLog();
    const f = new ExportFailures(log, 60_000);
    for (let t = 0; t < 100_000; t += 10_000) f.record('metrics', new Error('ECONNREFUSED'), t);
    expect(f.counts.metrics).toBe(10);
    expect(warnings.map((w) => [w.failures, w.total])).toEqual([[1, 1], [6, 7]]);
  });

  it('otlpProtocol should default to http/protobuf, take the per-signal variable first, take grpc and refuse anything else', () => {
    delete process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
    expect(otlpProtocol('traces')).toBe('http/protobuf');
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';
    expect(otlpProtocol('metrics')).toBe('http/json');
    process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = 'http/protobuf';
    expect(otlpProtocol('traces')).toBe('http/protobuf');
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    expect(otlpProtocol('metrics')).toBe('grpc');
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'udp';
    expect(() => otlpProtocol('metrics')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('grpc') }));
  });

  it('otlpEndpoint should append /v1/<signal> over HTTP only and default to port 4317 for grpc, 4318 for HTTP', () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    expect(otlpEndpoint('traces')).toBe('http://localhost:4318/v1/traces');
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    expect(otlpEndpoint('traces')).toBe('http://localhost:4317');
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://collector:4317/';
    expect(otlpEndpoint('metrics')).toBe('http://collector:4317/');
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' });
    expect(otlpEndpoint('metrics')).toBe('http://collector:4318/v1/metrics');
  });

  it('metricExportTiming should follow OTEL_METRIC_EXPORT_INTERVAL and _TIMEOUT', () => {
    expect(metricExportTiming()).toEqual({ exportIntervalMillis: 60_000, exportTimeoutMillis: 30_000 });
    Object.assign(process.env, { OTEL_METRIC_EXPORT_INTERVAL: '5000', OTEL_METRIC_EXPORT_TIMEOUT: '2000' });
    expect(metricExportTiming()).toEqual({ exportIntervalMillis: 5000, exportTimeoutMillis: 2000 });
  });
});

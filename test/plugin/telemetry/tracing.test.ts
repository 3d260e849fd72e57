import { afterEach, describe, expect, it } from 'vitest';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { createTracerProvider, exportersFromEnv, telemetryResource } from '../../../src/plugin/telemetry/tracing.js';

const KEYS = ['OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER', 'OTEL_METRICS_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_SERVICE_NAME'];
const saved = Object.fromEntries(KEYS.map((k) => [k, process.env[k]]));
function env(vars: Record<string, string>) {
  for (const k of KEYS) delete process.env[k];
  Object.assign(process.env, vars);
}
afterEach(() => { for (const k of KEYS) { if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k]; } });

describe('exportersFromEnv', () => {
  it('exportersFromEnv should export nothing by default', () => {
    env({});
    expect(exportersFromEnv('TRACES')).toEqual([]);
    expect(exportersFromEnv('METRICS')).toEqual([]);
  });

  it('exportersFromEnv should choose OTLP when an OTLP endpoint is set', () => {
    env({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' });
    expect(exportersFromEnv('TRACES')).toEqual(['otlp']);
    expect(exportersFromEnv('METRICS')).toEqual([]);
    env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });
    expect(exportersFromEnv('METRICS')).toEqual(['otlp']);
  });

  it('exportersFromEnv should follow OTEL_*_EXPORTER, none and OTEL_SDK_DISABLED', () => {
    env({ OTEL_TRACES_EXPORTER: 'otlp,console', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' });
    expect(exportersFromEnv('TRACES')).toEqual(['otlp', 'console']);
    env({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' });
    expect(exportersFromEnv('TRACES')).toEqual([]);
    env({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' });
    expect(exportersFromEnv('TRACES')).toEqual([]);
  });
});

describe('createTracerProvider', () => {
  it('createTracerProvider should return nothing when no exporter is configured, so frames keep the input headers', () => {
    env({});
    expect(createTracerProvider(resourceFromAttributes({}))).toBeUndefined();
    const p = createTracerProvider(resourceFromAttributes({}), new InMemorySpanExporter());
    expect(p).toBeDefined();
    return p!.shutdown();
  });
});

describe('telemetryResource', () => {
  it('telemetryResource should name the service by role unless OTEL_SERVICE_NAME says otherwise', () => {
    env({});
    expect(telemetryResource('diffiqa-gate', '1.0.0').attributes).toMatchObject({ 'service.name': 'diffiqa-gate', 'service.version': '1.0.0' });
    env({ OTEL_SERVICE_NAME: 'gate-eu-1' });
    expect(telemetryResource('diffiqa-gate', '1.0.0').attributes['service.name']).toBe('gate-eu-1');
  });
});

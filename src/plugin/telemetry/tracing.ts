import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { getStringFromEnv, getStringListFromEnv } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from '../core/log.js';
import { ExportFailures, otlpSpanExporter } from './exporters.js';

let contextManagerInstalled = false;

/**
 * Frames of different cameras are processed concurrently: only AsyncLocalStorage keeps each
 * one's active span apart across awaits (logs and nested spans read it). Installed once per
 * process; a manager someone else installed first is kept.
 */
export function installContextManager(): void {
  if (contextManagerInstalled) return;
  const manager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(manager)) manager.disable();
  contextManagerInstalled = true;
}

/** service.name defaults to the role's name; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win. */
export function telemetryResource(serviceName: string, version: string): Resource {
  return defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName, [ATTR_SERVICE_VERSION]: version }))
    .merge(detectResources({ detectors: [envDetector] }));
}

function otlpConfigured(signal: 'TRACES' | 'METRICS'): boolean {
  return Boolean(getStringFromEnv('OTEL_EXPORTER_OTLP_ENDPOINT') || getStringFromEnv(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`));
}

/**
 * The exporters named by OTEL_{TRACES,METRICS}_EXPORTER (otlp, console, none). Unlike the SDK's
 * default, nothing is exported unless asked: OTLP when the variable says so or an OTLP endpoint is set.
 */
export function exportersFromEnv(signal: 'TRACES' | 'METRICS'): string[] {
  if (getStringFromEnv('OTEL_SDK_DISABLED') === 'true') return [];
  const named = getStringListFromEnv(`OTEL_${signal}_EXPORTER`);
  if (named && named.length > 0) return named.filter((e) => e !== 'none');
  return otlpConfigured(signal) ? ['otlp'] : [];
}

export function spanProcessorsFromEnv(failures: ExportFailures): SpanProcessor[] {
  const out: SpanProcessor[] = [];
  for (const name of exportersFromEnv('TRACES')) {
    // OTLP over OTEL_EXPORTER_OTLP_PROTOCOL; endpoint, headers and timeouts from OTEL_EXPORTER_OTLP_* as usual.
    if (name === 'otlp') out.push(new BatchSpanProcessor(otlpSpanExporter(failures)));
    else if (name === 'console') out.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
  }
  return out;
}

/**
 * A tracer provider of our own, not the global one: two stages in one process (tests, demo)
 * keep separate service names. `exporter` (tests: InMemorySpanExporter) replaces the env's choice.
 * Undefined when nothing would receive the spans: then frames keep the input's trace headers.
 */
export function createTracerProvider(resource: Resource, exporter?: SpanExporter, failures: ExportFailures = new ExportFailures(silent)): BasicTracerProvider | undefined {
  const spanProcessors = exporter ? [new SimpleSpanProcessor(exporter)] : spanProcessorsFromEnv(failures);
  if (spanProcessors.length === 0) return undefined;
  installContextManager();
  return new BasicTracerProvider({ resource, spanProcessors });
}

const silent = { warn: () => undefined } as unknown as Logger;

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { context, isSpanContextValid, trace, type Tracer } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import type { BasicTracerProvider, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { AppHooks, AppParts } from '../app/gate-app.js';
import { reloadChannels } from '../app/reload.js';
import type { Config } from '../config/load.js';
import type { Frame } from '../core/frame.js';
import { subscribeTo } from '../core/diagnostic.js';
import { Lifecycle, PEER_CLOSE_TIMEOUT_MS } from '../core/lifecycle.js';
import { setLogContext, type Logger } from '../core/log.js';
import { packageRoot } from '../core/paths.js';
import type { Stage } from '../core/stage.js';
import { AlertPublisher, canaryAlert, driftAlert } from '../drift/alerts.js';
import { CanaryMonitor } from '../drift/canary.js';
import { DriftMonitor, type DriftOptions } from '../drift/monitor.js';
import { gateChannels } from '../gate/gate.js';
import { inferenceChannels } from '../inference/pool.js';
import { canaryChannels } from '../pipeline/stages/canary.js';
import type { KafkaClient, OutRecord } from '../kafka/port.js';
import { traceHeaders } from '../core/trace-carrier.js';
import { FrameTracer } from './frame-spans.js';
import { LagPoller } from './lag.js';
import { PipelineMetrics, type Observed } from './metrics.js';
import { PrometheusReader } from './prometheus.js';
import { runtimeMetrics } from './runtime-metrics.js';
import { TelemetryServer } from './server.js';
import { createTracerProvider, exportersFromEnv, telemetryResource } from './tracing.js';
import { ExportFailures, metricExportTiming, otlpEndpoint, otlpMetricExporter, otlpProtocol } from './exporters.js';

export interface TelemetryOptions {
  role: 'gate' | 'escalation';
  /** For consumer lag (admin) and drift alerts (producer). */
  client: KafkaClient;
  log: Logger;
  /** Tests: spans go here (e.g. InMemorySpanExporter) instead of where OTEL_* says. */
  spanExporter?: SpanExporter;
  /** Tests: serve /metrics on a free port even when telemetry.metricsPort is 0. */
  ephemeralPort?: boolean;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** trace_id/span_id of the active span, for every log line (pino mixin). */
function activeTraceFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  const sc = span?.spanContext();
  return sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

export function driftOptions(cfg: Config): DriftOptions {
  return {
    baselineSize: cfg.get('drift.baselineSize'), windowSize: cfg.get('drift.windowSize'), medianShift: cfg.get('drift.medianShift'),
    acceptRateShift: cfg.get('drift.acceptRateShift'), rearmFraction: cfg.get('drift.rearmFraction'), maxCameras: cfg.get('drift.maxCameras'),
  };
}

/**
 * Traces, metrics, health endpoints and drift alerts of one app (gate or escalation stage),
 * plugged in through AppHooks. OpenTelemetry stays behind this folder. Start it before the app
 * (so /healthz answers during model loading), pass it as the app's hooks, shut it down after.
 */
export class Telemetry implements AppHooks {
  readonly serviceName: string;
  readonly metrics: PipelineMetrics;
  readonly frames?: FrameTracer;
  readonly drift?: DriftMonitor;
  readonly #cfg: Config;
  readonly #o: TelemetryOptions;
  readonly #tracerProvider?: BasicTracerProvider;
  readonly #meterProvider: MeterProvider;
  readonly #prometheus = new PrometheusReader();
  /** Failed OTLP exports (logged, rate-limited; diffiqa_telemetry_export_failures). */
  readonly exportFailures: ExportFailures;
  #server?: TelemetryServer;
  #lag?: LagPoller;
  #alerts?: AlertPublisher;
  #parts?: AppParts;
  #started = false;
  #brokerDown?: string;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #stopRuntimeMetrics: () => void;
  #closed?: Promise<void>;
  port?: number;

  constructor(cfg: Config, o: TelemetryOptions, resource: Resource) {
    this.#cfg = cfg;
    this.#o = o;
    this.serviceName = String(resource.attributes['service.name']);
    this.exportFailures = new ExportFailures(o.log);
    this.#tracerProvider = createTracerProvider(resource, o.spanExporter, this.exportFailures);
    const readers: MetricReader[] = [this.#prometheus];
    const otlpMetrics = exportersFromEnv('METRICS').includes('otlp');
    if (otlpMetrics) readers.push(new PeriodicExportingMetricReader({ exporter: otlpMetricExporter(this.exportFailures), ...metricExportTiming() }));
    this.#meterProvider = new MeterProvider({ resource, readers });
    const meter = this.#meterProvider.getMeter('diffiqa-gate');
    this.metrics = new PipelineMetrics(meter, { cameraSeries: cfg.get('telemetry.cameraSeries') });
    this.#stopRuntimeMetrics = runtimeMetrics(meter);
    meter.createObservableCounter('diffiqa_telemetry_export_failures', { description: 'OTLP exports that failed, by signal (traces, metrics); each is logged, at most once a minute' })
      .addCallback((r) => { for (const [signal, n] of Object.entries(this.exportFailures.counts)) r.observe(n, { signal }); });
    o.log.info({
      service: this.serviceName,
      traces: o.spanExporter ? 'in-process exporter' : this.#tracerProvider ? describeExport('traces', exportersFromEnv('TRACES')) : 'off (no OTLP endpoint or OTEL_TRACES_EXPORTER)',
      metrics: {
        prometheus: cfg.get('telemetry.metricsPort') ? `:${cfg.get('telemetry.metricsPort')}/metrics` : 'off (telemetry.metricsPort 0)',
        otlp: otlpMetrics ? `${describeExport('metrics', ['otlp'])} every ${metricExportTiming().exportIntervalMillis} ms` : 'off',
      },
    }, 'telemetry');
    if (this.#tracerProvider) {
      const tracer: Tracer = this.#tracerProvider.getTracer('diffiqa-gate');
      const groupId = o.role === 'gate' ? cfg.get('kafka.groupId') : cfg.get('escalation.groupId');
      this.frames = new FrameTracer(tracer, { groupId, batchStages: ['regress', 'diffiqa'] });
      setLogContext(activeTraceFields);
    }
    if (o.role === 'gate' && cfg.get('drift.enabled')) this.drift = new DriftMonitor(driftOptions(cfg));
  }

  readonly wrap = (stage: Stage): Stage => {
    const timed = this.metrics.wrap(stage);
    return this.frames ? this.frames.wrap(timed) : timed;
  };

  async listen(): Promise<void> {
    const port = this.#cfg.get('telemetry.metricsPort');
    if (port === 0 && !this.#o.ephemeralPort) return;
    this.#server = new TelemetryServer({ metrics: () => this.renderMetrics(), notReady: () => this.notReady() });
    this.port = await this.#server.listen(port);
    this.#o.log.info({ port: this.port }, 'metrics and health endpoints listening');
  }

  renderMetrics(): Promise<string> {
    return this.#prometheus.render();
  }

  /** Empty when ready: models loaded (the app attached) and the consumer in its group. */
  notReady(): string[] {
    const why: string[] = [];
    if (!this.#parts) why.push('models loading');
    else if (!this.#started) why.push('joining the consumer group');
    if (this.#brokerDown) why.push(`broker: ${this.#brokerDown}`);
    if (this.#parts?.gate.stopping) why.push('stopping');
    if (this.#parts && this.#parts.runtime.pool.liveWorkers === 0) why.push('no inference worker alive (restarting)');
    return why;
  }

  async attach(parts: AppParts): Promise<void> {
    this.#parts = parts;
    const { gate, runtime, consumer, pressure } = parts;
    const cfg = this.#cfg;
    const pool = runtime.pool;
    this.#unsubscribe.push(
      subscribeTo(inferenceChannels.run, pool, (e) => this.metrics.inferenceRun(e.modelId, e.batchSize, e.ms, e.provider)),
      subscribeTo(reloadChannels.done, runtime, (e) => this.metrics.reloaded(e.what, e.ok)),
      subscribeTo(inferenceChannels.workerDied, pool, ({ error, restarting }) => {
        this.metrics.workerDied(restarting);
        this.#o.log.error({ component: 'inference', err: error.message, restarting }, restarting ? 'inference worker died; starting another' : 'inference worker died; restart budget spent');
      }),
    );
    this.#unsubscribe.push(
      subscribeTo(gateChannels.chunk, gate, (e) => this.#chunk(e.frames, e.records)),
      subscribeTo(gateChannels.retry, gate, (e) => this.metrics.gateRetry(e.error.code)),
    );
    consumer.onCrash((err, restarting) => {
      this.#brokerDown = restarting ? `consumer restarting after ${err.message}` : `consumer gave up: ${err.message}`;
    });
    // Any (re)join means the group coordinator answered again.
    consumer.onRebalance(() => { this.#brokerDown = undefined; });

    const canary = this.#watchCanary(parts);
    const modelIds = parts.role === 'gate'
      ? [cfg.get('models.regressor'), cfg.get('models.detector'), ...(canary ? [cfg.get('canary.model')] : [])]
      : [cfg.get('models.denoiser'), cfg.get('models.embedder')];
    const regressor = cfg.get('models.regressor');
    const groupId = parts.role === 'gate' ? cfg.get('kafka.groupId') : cfg.get('escalation.groupId');
    const inputTopic = parts.role === 'gate' ? cfg.get('kafka.inputTopic') : cfg.get('kafka.escalationTopic');
    this.#lag = new LagPoller(this.#o.client.admin(), groupId, inputTopic, this.#o.log);
    this.metrics.observe({
      queueDepth: parts.role === 'gate' ? () => ({ [regressor]: runtime.batcher(regressor).queueDepth }) : undefined,
      pause: pressure ? () => ({ pausedMs: pressure.pausedMs, pauses: pressure.pauses }) : undefined,
      lag: () => this.#lag?.last ?? [],
      models: () => modelIds.map((id) => {
        const m = runtime.pool.model(id);
        return { model: id, version: m.entry.version, provider: m.provider };
      }),
      ready: () => this.notReady().length === 0,
      driftActive: this.drift ? () => this.drift!.drifting() : undefined,
      canary,
    });
    if (this.drift) {
      const topic = cfg.get('kafka.alertsTopic');
      const admin = this.#o.client.admin();
      try { await admin.createTopics([{ topic, partitions: 3 }]); } finally { await admin.close(); }
      this.#alerts = new AlertPublisher(this.#o.client.producer(), topic, this.#o.log);
      this.#alerts.onFailure = () => this.metrics.driftAlertFailed();
    }
  }

  /**
   * The canary split (AppParts.canary): both score distributions as metrics, and the drift
   * monitor's check of the candidate against the regressor on the stage's comparison window, an
   * alert when it diverges or converges again (on the alerts topic when drift alerts are on).
   */
  #watchCanary(parts: AppParts): Observed['canary'] {
    const stage = parts.canary;
    if (!stage) return undefined;
    const models = { regressor: this.#cfg.get('models.regressor'), candidate: this.#cfg.get('canary.model') };
    const monitor = new CanaryMonitor(driftOptions(this.#cfg), models);
    this.#unsubscribe.push(subscribeTo(canaryChannels.scored, stage, (e) => {
      this.metrics.canaryScored(e.pairs, models);
      const event = monitor.check(stage.comparison.summary());
      if (!event) return;
      this.metrics.canaryEvent(event.type);
      // Logged as well: with drift alerts off there is no topic to read it from.
      this.#o.log.warn({ component: 'canary', type: event.type, candidate: models.candidate }, 'canary: the candidate\'s score distribution changed against the regressor\'s');
      void this.#alerts?.publish(canaryAlert(event, this.serviceName, driftOptions(this.#cfg)));
    }));
    return () => ({ candidate: models.candidate, summary: stage.comparison.summary(), diverged: monitor.diverged, failed: stage.counts.failed });
  }

  started(): void {
    this.#started = true;
    this.#lag?.start(this.#cfg.get('telemetry.lagIntervalMs'));
  }

  /** Runs fn inside the frame's trace (logs carry its trace_id); plain call when tracing is off. */
  withFrame<T>(f: Frame, fn: () => T): T {
    return this.frames ? this.frames.withFrame(f, fn) : fn();
  }

  /** Resolves once every alert raised so far is sent (tests, shutdown). */
  async flushAlerts(): Promise<void> {
    await this.#alerts?.flush();
  }

  #chunk(frames: Frame[], records: OutRecord[]): void {
    this.metrics.chunk(frames, records);
    this.frames?.published(frames, records);
    for (const f of frames) {
      if (f.error) {
        this.withFrame(f, () => this.#o.log.debug({ frameId: f.id, cameraId: f.cameraId, reason: f.error!.code, stage: f.errorStage }, 'frame dead-lettered'));
        continue;
      }
      if (!this.drift || !f.regression || !f.decision) continue;
      const e = this.drift.observe(f.cameraId, f.regression.score, f.decision === 'ACCEPT');
      if (!e) continue;
      this.metrics.driftEvent(e.cameraId, e.type);
      void this.#alerts?.publish(driftAlert(e, this.serviceName, driftOptions(this.#cfg)), traceHeaders(f));
    }
  }

  /** Idempotent. Call after the app's shutdown: flushes spans, metrics and alerts. */
  shutdown(): Promise<void> {
    this.#closed ??= (async () => {
      for (const off of this.#unsubscribe) off();
      this.#stopRuntimeMetrics();
      // Bounded: an unreachable broker or collector must not hold the process past its drain deadline.
      const life = new Lifecycle();
      life.onClose('exporters', () => Promise.allSettled([this.#tracerProvider?.shutdown(), this.#meterProvider.shutdown()]), { timeoutMs: PEER_CLOSE_TIMEOUT_MS });
      life.onClose('alerts, lag, endpoints', () => Promise.allSettled([this.#alerts?.close(), this.#lag?.close(), this.#server?.close()]), { timeoutMs: PEER_CLOSE_TIMEOUT_MS });
      await life.close();
    })();
    return this.#closed;
  }
}

/** Where a signal goes, e.g. "otlp http/protobuf → http://collector:4318/v1/traces" or "otlp grpc → http://collector:4317". */
function describeExport(signal: 'traces' | 'metrics', exporters: string[]): string {
  return exporters.map((e) => (e === 'otlp' ? `otlp ${otlpProtocol(signal)} → ${otlpEndpoint(signal)}` : e)).join(', ');
}

/** Telemetry for one app: resource from the role and OTEL_* env, /metrics listening if configured. */
export async function startTelemetry(cfg: Config, o: TelemetryOptions): Promise<Telemetry> {
  const name = o.role === 'gate' ? 'diffiqa-gate' : 'diffiqa-escalation';
  const t = new Telemetry(cfg, o, telemetryResource(name, packageVersion()));
  await t.listen();
  return t;
}

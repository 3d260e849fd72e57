import type { Attributes, Counter, Histogram, Meter, ObservableResult } from '@opentelemetry/api';
import type { Frame } from '../core/frame.js';
import type { Stage } from '../core/stage.js';
import type { CanaryPair, CanarySummary } from '../drift/canary.js';
import type { OutRecord } from '../kafka/port.js';
import { CameraLabels, DEFAULT_CAMERA_SERIES, OTHER_CAMERA } from './camera-labels.js';

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** Produce→final runs from milliseconds (inline) to minutes (full DifFIQA on a busy CPU). */
const LATENCY = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const SCORES = [...Array.from({ length: 21 }, (_, i) => Math.round(i * 5) / 100), 1.25, 1.5];

/** Sources read at collection time (observable instruments): no timers of our own. */
export interface Observed {
  queueDepth?: () => Record<string, number>;
  pause?: () => { pausedMs: number; pauses: number };
  lag?: () => { topic: string; partition: number; lag: number }[];
  models?: () => { model: string; version: string; provider: string }[];
  ready?: () => boolean;
  driftActive?: () => string[];
  /** The canary split's comparison window and whether the candidate diverges now (config `canary.model`). */
  canary?: () => { candidate: string; summary: CanarySummary; diverged: boolean; failed: number };
}

/**
 * Every instrument of a pipeline process. Names are Prometheus-style already (unit suffixes),
 * so /metrics reads like any Prometheus exporter's output; OTLP receives the same names.
 */
export class PipelineMetrics {
  readonly #framesIn: Counter;
  readonly #framesOut: Counter;
  readonly #recordsOut: Counter;
  readonly #dlq: Counter;
  readonly #stage: Histogram;
  readonly #batch: Histogram;
  readonly #infer: Histogram;
  readonly #score: Histogram;
  readonly #skipped: Counter;
  readonly #drift: Counter;
  readonly #alertFailures: Counter;
  readonly #retries: Counter;
  readonly #workerDeaths: Counter;
  readonly #latency: Histogram;
  readonly #canaryScore: Histogram;
  readonly #canaryAlerts: Counter;
  readonly #reloads: Counter;
  readonly #seen = new WeakSet<Frame>();
  readonly #meter: Meter;
  readonly #cameras: CameraLabels;

  /** `cameraSeries`: the busiest cameras get their own camera_id series; the others share "other" (camera-labels.ts). */
  constructor(meter: Meter, o: { cameraSeries?: number } = {}) {
    this.#meter = meter;
    this.#cameras = new CameraLabels(o.cameraSeries ?? DEFAULT_CAMERA_SERIES);
    this.#framesIn = meter.createCounter('diffiqa_frames_in', { description: 'frames consumed from the input topic' });
    this.#framesOut = meter.createCounter('diffiqa_frames_out', { description: 'frames published (acknowledged; their offsets are committed next), by decision; DLQ for dead letters' });
    this.#recordsOut = meter.createCounter('diffiqa_records_out', { description: 'records published, by topic' });
    this.#dlq = meter.createCounter('diffiqa_dlq', { description: 'frames dead-lettered, by reason code and stage' });
    this.#stage = meter.createHistogram('diffiqa_stage_duration_seconds', { unit: 's', description: 'time of one stage call (one batch of frames)', advice: { explicitBucketBoundaries: SECONDS } });
    this.#batch = meter.createHistogram('diffiqa_inference_batch_size', { description: 'items per model run', advice: { explicitBucketBoundaries: BATCH } });
    this.#infer = meter.createHistogram('diffiqa_inference_duration_seconds', { unit: 's', description: 'time of one model run in its worker', advice: { explicitBucketBoundaries: SECONDS } });
    this.#score = meter.createHistogram('diffiqa_score', { description: 'published quality scores per camera (negative scores counted as 0)', advice: { explicitBucketBoundaries: SCORES } });
    this.#skipped = meter.createCounter('diffiqa_escalation_skipped_overload', { description: 'borderline frames that kept the inline score because they waited too long' });
    this.#drift = meter.createCounter('diffiqa_drift_alerts', { description: 'per-camera drift alerts and recoveries published' });
    this.#alertFailures = meter.createCounter('diffiqa_drift_alert_failures', { description: 'drift alerts that could not be published' });
    this.#retries = meter.createCounter('diffiqa_gate_retries', { description: 'publishes or offset commits that failed and were tried again, by error code' });
    this.#latency = meter.createHistogram('diffiqa_final_latency_seconds', { unit: 's', description: 'capture (FaceCrop.captureTimestamp) to the final event\'s publication, by the path that decided it: inline, full (full DifFIQA) or skipped_overload', advice: { explicitBucketBoundaries: LATENCY } });
    this.#workerDeaths = meter.createCounter('diffiqa_inference_worker_deaths', { description: 'inference worker threads that died, by whether the pool restarts them (restarted: true) or its restart budget was spent' });
    this.#canaryScore = meter.createHistogram('diffiqa_canary_score', { description: 'scores of the canary split, each face by both models: role regressor (production) and candidate (negative scores counted as 0)', advice: { explicitBucketBoundaries: SCORES } });
    this.#canaryAlerts = meter.createCounter('diffiqa_canary_alerts', { description: 'canary alerts raised (published on the alerts topic when drift alerts are on): the candidate\'s distribution diverged from the regressor\'s, or converged again' });
    this.#reloads = meter.createCounter('diffiqa_reloads', { description: 'reloads by what (config: the config file\'s cameras section and canary split; model: one model) and result (applied, or failed: the running one stays)' });
    // Zero from the start: an absent series cannot be told from a broken exporter on a dashboard.
    for (const what of ['config', 'model']) this.#reloads.add(0, { what, result: 'failed' });
    this.#skipped.add(0);
    this.#alertFailures.add(0);
  }

  /** Times every stage call; counts frames on first sight (the first stage). */
  readonly wrap = (stage: Stage): Stage => ({
    name: stage.name,
    process: async (batch, signal) => {
      let fresh = 0;
      for (const f of batch) if (!this.#seen.has(f)) { this.#seen.add(f); fresh++; }
      if (fresh) this.#framesIn.add(fresh);
      const t0 = performance.now();
      try {
        return await stage.process(batch, signal);
      } finally {
        this.#stage.record((performance.now() - t0) / 1000, { stage: stage.name });
      }
    },
    close: () => stage.close(),
  });

  /** A chunk was published and committed: outcomes, scores, dead letters. */
  chunk(frames: Frame[], records: OutRecord[]): void {
    const now = Date.now();
    for (const r of records) this.#recordsOut.add(1, { topic: r.topic });
    for (const f of frames) {
      if (f.error || !f.decision) {
        this.#framesOut.add(1, { decision: 'DLQ' });
        this.#dlq.add(1, { reason: f.error?.code ?? 'INTERNAL', stage: f.errorStage ?? 'unknown' });
        continue;
      }
      this.#framesOut.add(1, { decision: f.decision });
      if (f.escalation === 'SKIPPED_OVERLOAD') this.#skipped.add(1);
      // The escalation stage's own score is full DifFIQA; a skipped frame's score was counted by the gate.
      const r = f.full ?? (f.escalation === undefined ? f.regression : undefined);
      // OTel histograms drop negative values; the regressor's output is unbounded, so a negative score counts as 0 (lowest bucket).
      if (r) this.#score.record(Math.max(0, r.score), { camera_id: this.#cameras.label(f.cameraId), model: r.modelId });
      // The gate publishes a borderline frame's final event only when it is not escalated.
      const final = f.escalation !== undefined || f.decision !== 'BORDERLINE' || f.rule?.escalate === false;
      if (final && f.captureTs) {
        const path = f.escalation === 'ESCALATED' ? 'full' : f.escalation === 'SKIPPED_OVERLOAD' ? 'skipped_overload' : 'inline';
        this.#latency.record(Math.max(0, now - f.captureTs) / 1000, { path });
      }
    }
  }

  inferenceRun(model: string, batchSize: number, ms: number, provider: string): void {
    const a: Attributes = { model, provider };
    this.#batch.record(batchSize, a);
    this.#infer.record(ms / 1000, a);
  }

  /** Both scores of each canary face, so the two distributions sit side by side on the same faces. */
  canaryScored(pairs: CanaryPair[], models: { regressor: string; candidate: string }): void {
    for (const p of pairs) {
      this.#canaryScore.record(Math.max(0, p.regressor), { model: models.regressor, role: 'regressor' });
      this.#canaryScore.record(Math.max(0, p.candidate), { model: models.candidate, role: 'candidate' });
    }
  }

  reloaded(what: string, ok: boolean): void { this.#reloads.add(1, { what, result: ok ? 'applied' : 'failed' }); }

  canaryEvent(type: string): void { this.#canaryAlerts.add(1, { type }); }

  driftEvent(cameraId: string, type: string): void { this.#drift.add(1, { camera_id: this.#cameras.label(cameraId), type }); }
  driftAlertFailed(): void { this.#alertFailures.add(1); }
  gateRetry(code: string): void { this.#retries.add(1, { code }); }
  workerDied(restarted: boolean): void { this.#workerDeaths.add(1, { restarted }); }

  observe(o: Observed): void {
    const m = this.#meter;
    const gauge = (name: string, description: string, cb: (r: ObservableResult) => void) => m.createObservableGauge(name, { description }).addCallback(cb);
    const counter = (name: string, description: string, cb: (r: ObservableResult) => void) => m.createObservableCounter(name, { description }).addCallback(cb);
    if (o.queueDepth) gauge('diffiqa_inference_queue_depth', 'items waiting for a batch, per model', (r) => { for (const [model, n] of Object.entries(o.queueDepth!())) r.observe(n, { model }); });
    if (o.pause) {
      counter('diffiqa_backpressure_paused_seconds', 'time the input was paused because inference was saturated', (r) => r.observe(o.pause!().pausedMs / 1000));
      counter('diffiqa_backpressure_pauses', 'times the input was paused', (r) => r.observe(o.pause!().pauses));
    }
    if (o.lag) gauge('diffiqa_consumer_lag', 'end offset minus committed offset per input partition (polled)', (r) => { for (const l of o.lag!()) r.observe(l.lag, { topic: l.topic, partition: String(l.partition) }); });
    if (o.models) gauge('diffiqa_model_info', 'loaded models and the execution provider each runs on (value 1)', (r) => { for (const x of o.models!()) r.observe(1, x); });
    if (o.ready) gauge('diffiqa_ready', '1 when the broker is connected and the models are loaded', (r) => r.observe(o.ready!() ? 1 : 0));
    if (o.canary) {
      // Window statistics only once the window holds pairs: NaN medians would read as real values.
      const window = (cb: (c: ReturnType<NonNullable<Observed['canary']>>, r: ObservableResult) => void) => (r: ObservableResult) => { const c = o.canary!(); if (c.summary.count) cb(c, r); };
      gauge('diffiqa_canary_median_shift', 'median score of the candidate minus the regressor\'s, same faces, over the last drift.windowSize canary faces', window((c, r) => r.observe(c.summary.medianShift, { model: c.candidate })));
      gauge('diffiqa_canary_accept_rate_shift', 'accept rate of the candidate minus the regressor\'s over the same window', window((c, r) => r.observe(c.summary.acceptRateShift, { model: c.candidate })));
      gauge('diffiqa_canary_agreement', 'share of the window\'s faces both models decide alike', window((c, r) => r.observe(c.summary.agreement, { model: c.candidate })));
      gauge('diffiqa_canary_diverged', '1 while the candidate\'s distribution is outside the drift bounds around the regressor\'s', (r) => { const c = o.canary!(); r.observe(c.diverged ? 1 : 0, { model: c.candidate }); });
      counter('diffiqa_canary_failures', 'canary faces the candidate could not score (the frame went on without its canary score)', (r) => { const c = o.canary!(); r.observe(c.failed, { model: c.candidate }); });
    }
    // Drifting cameras under the same camera_id bound as every other metric (up to drift.maxCameras
    // of them could drift at once): a camera without its own series counts under "other".
    if (o.driftActive) {
      gauge('diffiqa_drift_active', 'cameras currently drifting from their baseline (1 for a camera with its own series; camera_id="other": how many of the rest)', (r) => {
        const own = this.#cameras.labelled;
        const n = new Map<string, number>();
        for (const c of o.driftActive!()) { const l = own.has(c) ? c : OTHER_CAMERA; n.set(l, (n.get(l) ?? 0) + 1); }
        for (const [camera, v] of n) r.observe(v, { camera_id: camera });
      });
    }
  }
}

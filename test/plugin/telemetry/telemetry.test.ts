import { Writable } from 'node:stream';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppParts } from '../../../src/plugin/app/gate-app.js';
import { buildConfig } from '../../../src/plugin/config/load.js';
import { GateError } from '../../../src/plugin/core/errors.js';
import type { Frame } from '../../../src/plugin/core/frame.js';
import { createLogger, type Logger } from '../../../src/plugin/core/log.js';
import type { Stage } from '../../../src/plugin/core/stage.js';
import { CANARY_ALERT_SCHEMA, DRIFT_ALERT_SCHEMA, type CanaryAlert, type DriftAlert } from '../../../src/plugin/drift/alerts.js';
import { Gate } from '../../../src/plugin/gate/gate.js';
import { createMemoryClient, type MemoryKafkaClient } from '../../../src/plugin/kafka/memory.js';
import type { OutRecord } from '../../../src/plugin/kafka/port.js';
import { lineageHeaders } from '../../../src/plugin/pipeline/outputs.js';
import { Pipeline } from '../../../src/plugin/pipeline/pipeline.js';
import { CanaryStage } from '../../../src/plugin/pipeline/stages/canary.js';
import type { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import type { RegressScorer } from '../../../src/plugin/scorers/scorers.js';
import { startTelemetry, type Telemetry } from '../../../src/plugin/telemetry/telemetry.js';
import { traceparent } from './helpers.js';

/** Values are "camera:score"; "bad" is bad input. The stage logs per frame, as a real stage might. */
function scoreStage(log: Logger): Stage {
  return {
    name: 'regress',
    async process(frames: Frame[]) {
      for (const f of frames) {
        const v = f.source!.value!.toString();
        if (v === 'bad') { f.error = new GateError('INPUT_AVRO_DECODE', 'bad'); f.errorStage = 'regress'; continue; }
        const [cam, score] = v.split(':');
        f.cameraId = cam;
        f.id = `${cam}-${f.source!.offset}`;
        f.regression = { score: Number(score), modelId: 'reg', modelVersion: '1', executionProvider: 'cpu' };
        f.decision = f.regression.score >= 0.6 ? 'ACCEPT' : 'BORDERLINE';
        log.info({ frameId: f.id }, 'scored');
      }
      return frames;
    },
    async close() {},
  };
}

const build = async (frames: Frame[]): Promise<OutRecord[]> => frames.map((f) => ({ topic: f.error ? 'dlq' : 'out', key: f.cameraId, value: Buffer.from(f.decision ?? 'x'), headers: lineageHeaders(f) }));

const fakeRuntime = () => ({
  pool: { observer: undefined, model: (id: string) => ({ entry: { id, version: `${id}-v1` }, provider: 'cpu' }) },
  batcher: () => ({ queueDepth: 3 }),
}) as unknown as ModelRuntime;

function logSink() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
  return { lines, log: createLogger('debug', 'test', stream) };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

/**
 * The canary candidate scores every face `shift` above the regressor (a fake scorer: no models);
 * the stage in front gives frames what the canary stage reads (an aligned face, the rule).
 */
function canaryStages(shift: (regressor: number) => number): { prep: Stage; canary: CanaryStage } {
  const rule = { mode: 'enforce' as const, accept: 0.6, reject: 0.2, escalate: true, escalation: { accept: 1, reject: 0 } };
  const byFace = new WeakMap<object, number>();
  const prep: Stage = {
    name: 'align',
    async process(frames) {
      for (const f of frames) {
        if (f.error) continue;
        f.rule = rule;
        f.aligned = { size: 112, data: new Uint8Array(3), landmarkSource: 'message', landmarks: [], eyeDistance: 30 };
        byFace.set(f.aligned, f.regression!.score);
      }
      return frames;
    },
    async close() {},
  };
  const scorer = { score: async (face: object) => ({ score: shift(byFace.get(face)!), modelId: 'cand', modelVersion: '2' }) } as unknown as RegressScorer;
  return { prep, canary: new CanaryStage(scorer, { fraction: 1, cameras: [] }, 10) };
}

async function runGate(values: { value: string; headers?: Record<string, string> }[], extra: Record<string, unknown> = {}, inFlight = 4, canary?: { prep: Stage; canary: CanaryStage }) {
  const client: MemoryKafkaClient = createMemoryClient({ defaultPartitions: 1, maxBatchRecords: 8 });
  const cfg = buildConfig({}, {}, {
    'kafka.inputTopic': 'in', 'kafka.groupId': 'g', 'kafka.alertsTopic': 'alerts', 'models.regressor': 'reg', 'models.detector': 'det',
    'drift.baselineSize': 20, 'drift.windowSize': 10, 'drift.medianShift': 0.1, 'drift.acceptRateShift': 1, 'telemetry.lagIntervalMs': 100, ...extra,
  });
  const { lines, log } = logSink();
  const exporter = new InMemorySpanExporter();
  const telemetry = await startTelemetry(cfg, { role: 'gate', client, log, spanExporter: exporter, ephemeralPort: true });
  cleanups.push(() => telemetry.shutdown());
  const admin = client.admin();
  await admin.createTopics([{ topic: 'in', partitions: 1 }]);
  const producer = client.producer();
  await producer.connect();
  await producer.send(values.map((v) => ({ topic: 'in', key: null, value: Buffer.from(v.value), headers: v.headers })));

  const consumer = client.consumer({ groupId: 'g' });
  const gateProducer = client.producer();
  const gate = new Gate(consumer, gateProducer, new Pipeline([scoreStage(log), ...(canary ? [canary.prep, canary.canary] : [])], telemetry.wrap), build, { groupId: 'g', inputTopic: 'in', inFlightPerPartition: inFlight, partitionsConcurrently: 1, exactlyOnce: false });
  const readyBefore = telemetry.notReady();
  const parts: AppParts = { role: 'gate', gate, runtime: fakeRuntime(), consumer, pressure: { pausedMs: 1500, pauses: 2 } as AppParts['pressure'], canary: canary?.canary };
  await telemetry.attach(parts);
  await gate.start();
  telemetry.started();
  cleanups.push(async () => { await gate.stop(2000); await consumer.disconnect(); await gateProducer.disconnect(); await producer.disconnect(); await admin.close(); });
  const deadline = Date.now() + 10_000;
  while (gate.counts.records < values.length || gate.counts.published < values.length) {
    if (Date.now() > deadline) throw new Error(`gate did not finish: ${JSON.stringify(gate.counts)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await telemetry.flushAlerts();
  return { telemetry, client, admin, lines, exporter, readyBefore };
}

async function get(t: Telemetry, route: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${t.port}${route}`);
  return { status: res.status, body: await res.text() };
}

const scores = (cam: string, n: number, centre: number) => Array.from({ length: n }, (_, i) => ({ value: `${cam}:${(centre + ((i % 5) - 2) / 100).toFixed(3)}` }));

describe('Telemetry', () => {
  it('attach should count frames, decisions, dead letters and scores and serve them on /metrics', async () => {
    const values = [...scores('cam-a', 6, 0.7), { value: 'bad' }, ...scores('cam-b', 3, 0.5)];
    const { telemetry } = await runGate(values);
    const { status, body } = await get(telemetry, '/metrics');
    expect(status).toBe(200);
    expect(body).toContain('diffiqa_frames_in_total 10');
    expect(body).toContain('diffiqa_frames_out_total{decision="ACCEPT"} 6');
    expect(body).toContain('diffiqa_frames_out_total{decision="BORDERLINE"} 3');
    expect(body).toContain('diffiqa_frames_out_total{decision="DLQ"} 1');
    expect(body).toContain('diffiqa_dlq_total{reason="INPUT_AVRO_DECODE",stage="regress"} 1');
    expect(body).toContain('diffiqa_records_out_total{topic="out"} 9');
    expect(body).toContain('diffiqa_score_count{camera_id="cam-a",model="reg"} 6');
    expect(body).toContain('diffiqa_score_count{camera_id="cam-b",model="reg"} 3');
    expect(body).toMatch(/diffiqa_stage_duration_seconds_count\{stage="regress"\} [1-9]/);
    expect(body).toContain('diffiqa_inference_queue_depth{model="reg"} 3');
    expect(body).toContain('diffiqa_backpressure_paused_seconds_total 1.5');
    expect(body).toContain('diffiqa_model_info{model="reg",version="reg-v1",provider="cpu"} 1');
    expect(body).toContain('diffiqa_model_info{model="det",version="det-v1",provider="cpu"} 1');
    expect(body).toContain('diffiqa_escalation_skipped_overload_total 0');
    expect(body).toContain('diffiqa_ready 1');
  });

  it('attach should expose consumer lag polled from the group offsets', async () => {
    const { telemetry } = await runGate(scores('cam-a', 5, 0.7));
    // Committed to the end: the next poll reads lag 0 on the single partition.
    await new Promise((r) => setTimeout(r, 250));
    expect((await get(telemetry, '/metrics')).body).toContain('diffiqa_consumer_lag{topic="in",partition="0"} 0');
  });

  it('notReady should name what is missing until the app attached and joined, and /readyz should follow it', async () => {
    const { telemetry, readyBefore } = await runGate(scores('cam-a', 2, 0.7));
    expect(readyBefore).toEqual(['models loading']);
    expect(await get(telemetry, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
    expect((await get(telemetry, '/healthz')).status).toBe(200);
    expect((await get(telemetry, '/nothing')).status).toBe(404);
  });

  it('attach should publish exactly one alert when a camera median drops, and count it', async () => {
    const values = [...scores('cam-d', 20, 0.8), ...scores('cam-ok', 40, 0.7), ...scores('cam-d', 30, 0.3)];
    const { telemetry, admin } = await runGate(values);
    const alerts = await admin.readAll('alerts');
    expect(alerts).toHaveLength(1);
    const alert = JSON.parse(alerts[0].value!.toString()) as DriftAlert;
    expect(alert).toMatchObject({ schema: DRIFT_ALERT_SCHEMA, type: 'drift', cameraId: 'cam-d', service: 'diffiqa-gate', reasons: ['median'] });
    expect(alert.baseline.median).toBeCloseTo(0.8, 5);
    expect(alert.recent.median).toBeCloseTo(0.3, 5);
    expect(alerts[0].key?.toString()).toBe('cam-d');
    // The alert carries the trace of the frame that tipped the window.
    expect(alerts[0].headers.traceparent?.toString()).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const body = (await get(telemetry, '/metrics')).body;
    expect(body).toContain('diffiqa_drift_alerts_total{camera_id="cam-d",type="drift"} 1');
    expect(body).toContain('diffiqa_drift_active{camera_id="cam-d"} 1');
    expect(body).not.toContain('camera_id="cam-ok",type="drift"');
  });

  it('attach should publish no alert when drift alerts are disabled', async () => {
    const { admin, telemetry } = await runGate([...scores('cam-d', 20, 0.8), ...scores('cam-d', 30, 0.3)], { 'drift.enabled': false });
    expect(telemetry.drift).toBeUndefined();
    await admin.createTopics([{ topic: 'alerts', partitions: 1 }]);
    expect(await admin.readAll('alerts')).toEqual([]);
  });

  it('attach should histogram both canary distributions on the same faces and stay quiet while the candidate agrees', async () => {
    const values = scores('cam-a', 30, 0.7);
    const { telemetry, admin } = await runGate(values, { 'canary.model': 'cand' }, 4, canaryStages((s) => s + 0.01));
    const body = (await get(telemetry, '/metrics')).body;
    expect(body).toContain('diffiqa_canary_score_count{model="reg",role="regressor"} 30');
    expect(body).toContain('diffiqa_canary_score_count{model="cand",role="candidate"} 30');
    // Each candidate score is 0.01 above its regressor score: the sums differ by 30 × 0.01.
    const sum = (role: string) => Number(new RegExp(`diffiqa_canary_score_sum\\{model="[a-z]+",role="${role}"\\} ([0-9.]+)`).exec(body)![1]);
    expect(sum('candidate') - sum('regressor')).toBeCloseTo(0.3, 6);
    expect(body).toMatch(/diffiqa_canary_median_shift\{model="cand"\} 0\.0(09|10)/);
    expect(body).toContain('diffiqa_canary_agreement{model="cand"} 1');
    expect(body).toContain('diffiqa_canary_diverged{model="cand"} 0');
    expect(body).toContain('diffiqa_canary_failures_total{model="cand"} 0');
    expect(body).toContain('diffiqa_model_info{model="cand",version="cand-v1",provider="cpu"} 1');
    expect(body).not.toContain('diffiqa_canary_alerts_total');
    expect(await admin.readAll('alerts')).toEqual([]);
  });

  it('attach should raise one canary alert when the candidate diverges from the regressor, and one when it is back in line', async () => {
    // Frames 0-29 agree; 30-59 the candidate scores 0.4 lower (median and accept rate move); from 60 on it agrees again.
    let n = 0;
    const { telemetry, admin } = await runGate(scores('cam-a', 90, 0.7), { 'canary.model': 'cand' }, 1, canaryStages((s) => (n++ >= 30 && n <= 60 ? s - 0.4 : s)));
    const alerts = (await admin.readAll('alerts')).map((r) => ({ key: r.key?.toString(), alert: JSON.parse(r.value!.toString()) as CanaryAlert }));
    expect(alerts.map((a) => [a.key, a.alert.schema, a.alert.type])).toEqual([['cand', CANARY_ALERT_SCHEMA, 'diverged'], ['cand', CANARY_ALERT_SCHEMA, 'converged']]);
    const diverged = alerts[0].alert;
    expect(diverged).toMatchObject({ regressor: 'reg', candidate: 'cand', service: 'diffiqa-gate', bounds: { medianShift: 0.1, acceptRateShift: 1 } });
    expect(diverged.reasons).toEqual(['median']);
    expect(diverged.summary.medianShift).toBeLessThan(-0.1);
    const body = (await get(telemetry, '/metrics')).body;
    expect(body).toContain('diffiqa_canary_alerts_total{type="diverged"} 1');
    expect(body).toContain('diffiqa_canary_alerts_total{type="converged"} 1');
    expect(body).toContain('diffiqa_canary_diverged{model="cand"} 0');
  });

  it('wrap should make log lines inside a frame carry its trace_id and span_id', async () => {
    const tp = traceparent();
    // One record per chunk: a stage call holds a single frame, so its span is the active one.
    const { lines, exporter } = await runGate([{ value: 'cam-a:0.7', headers: { traceparent: tp.header } }, { value: 'bad', headers: { traceparent: traceparent().header } }], {}, 1);
    const scored = lines.find((l) => l.msg === 'scored')!;
    expect(scored.trace_id).toBe(tp.traceId);
    const stageSpan = exporter.getFinishedSpans().find((s) => s.name === 'regress' && s.spanContext().traceId === tp.traceId)!;
    expect(scored.span_id).toBe(stageSpan.spanContext().spanId);
    const dead = lines.find((l) => l.msg === 'frame dead-lettered')!;
    expect(dead.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(dead.trace_id).not.toBe(tp.traceId);
    // Outside any frame: no trace fields.
    expect(lines.find((l) => l.msg === 'metrics and health endpoints listening')!.trace_id).toBeUndefined();
  });
});

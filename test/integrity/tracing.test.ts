/**
 * Telemetry on the real broker: camera frames carrying a W3C traceparent pass through the gate and
 * the escalation stage (every frame BORDERLINE, so every frame escalates); each frame's spans of
 * both stages form one trace that continues the camera's, and the final event carries it on.
 * Then /metrics after the run, and one drift alert for a camera whose scores drop.
 * Needs a broker (deploy/kafka/broker.sh start), ../shared and models/ci.sh's fixtures.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEscalation, type EscalationApp } from '../../src/plugin/app/escalation-app.js';
import { startGate, type GateApp } from '../../src/plugin/app/gate-app.js';
import type { Config } from '../../src/plugin/config/load.js';
import type { DriftAlert } from '../../src/plugin/drift/alerts.js';
import type { AdminPort, KafkaClient } from '../../src/plugin/kafka/port.js';
import { createCodec, embeddedRegistry } from '../../src/plugin/pipeline/codecs.js';
import { startTelemetry, type Telemetry } from '../../src/plugin/telemetry/telemetry.js';
import type { AvroCodec } from '../../src/schemas/codec.js';
import { deadLetterType, escalationRequestType, faceQualityType, type DeadLetter, type EscalationRequest, type FaceCrop, type FaceQuality } from '../../src/schemas/index.js';
import { valueSubject } from '../../src/schemas/registry.js';
import { loadFaceSources, type CropMessage, type FaceSource } from '../helpers/crops.js';
import { prepareFixtureModels, type FixtureModels } from '../helpers/fixture-models.js';
import {
  KAFKA_CLIENTS, type KafkaClientKind, assertBroker, cropFactory, drained, gateConfig, produce, testClient, testLogger, uniqueNames, waitFor, type RunNames,
} from '../helpers/gate-harness.js';

const GOOD = 12;
const PARTITIONS = 3;
const MAX_MESSAGE_BYTES = 64_000;

let fx: FixtureModels;

interface Run {
  names: RunNames;
  client: KafkaClient;
  admin: AdminPort;
  codec: AvroCodec;
  gate: GateApp;
  escalation: EscalationApp;
  gateTelemetry: Telemetry;
  escTelemetry: Telemetry;
  gateSpans: InMemorySpanExporter;
  escSpans: InMemorySpanExporter;
  /** Incoming trace per input message, by frame id (the bad one by its input offset). */
  sent: { msg: CropMessage; traceId: string; spanId: string }[];
}
let run: Run | undefined;

const hex = (n: number) => randomBytes(n).toString('hex');
const traceOf = (tp: string | undefined) => tp?.split('-')[1];
const spanOf = (tp: string | undefined) => tp?.split('-')[2];

async function get(t: Telemetry, route: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${t.port}${route}`);
  return { status: res.status, body: await res.text() };
}

/** Every frame BORDERLINE at the gate (thresholds out of reach), each escalated and rescored by the tiny denoiser. */
function traceConfig(names: RunNames, extra: Record<string, unknown> = {}): Config {
  return gateConfig(names, fx, {
    'kafka.maxMessageBytes': MAX_MESSAGE_BYTES, 'gate.escalate': true, 'gate.accept': 1e9, 'gate.reject': -1e9,
    'escalation.groupId': `${names.run}-escalation`, 'escalation.repeats': 1, 'escalation.maxAgeMs': 0,
    'kafka.alertsTopic': `${names.run}-alerts`, 'telemetry.lagIntervalMs': 200, ...extra,
  });
}

beforeAll(async () => {
  await assertBroker();
  fx = await prepareFixtureModels({ denoiser: true });
  process.env.DIFFIQA_CACHE = fx.cacheDir;
}, 150_000);

afterAll(async () => {
  delete process.env.DIFFIQA_CACHE;
  await fx?.cleanup();
}, 60_000);

/** Both stages on `kind`, every frame through them; the tests below read the spans and events of this one run. */
async function startRun(kind: KafkaClientKind): Promise<void> {
  const names = uniqueNames('tracing', kind);
  const client = testClient(names.run, names.client);
  const admin = client.admin();
  const { factory, codec } = await cropFactory(names, fx, MAX_MESSAGE_BYTES);
  await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
  const msgs = [...await Promise.all(Array.from({ length: GOOD }, (_, n) => factory.make(names.run, n, 'good'))), await factory.make(names.run, GOOD, 'garbage-avro')];
  const sent = msgs.map((msg) => {
    const traceId = hex(16);
    const spanId = hex(8);
    msg.headers.traceparent = `00-${traceId}-${spanId}-01`;
    msg.headers.tracestate = `camera=${msg.cameraId}`;
    return { msg, traceId, spanId };
  });
  await produce(client, names.topics.input, msgs, { partitions: PARTITIONS });

  const cfg = traceConfig(names);
  const log = testLogger();
  const gateSpans = new InMemorySpanExporter();
  const escSpans = new InMemorySpanExporter();
  const gateTelemetry = await startTelemetry(cfg, { role: 'gate', client, log, spanExporter: gateSpans, ephemeralPort: true });
  const escTelemetry = await startTelemetry(cfg, { role: 'escalation', client, log, spanExporter: escSpans, ephemeralPort: true });
  const escalation = await startEscalation(cfg, client, log, escTelemetry);
  const gate = await startGate(cfg, client, log, gateTelemetry);
  run = { names, client, admin, codec, gate, escalation, gateTelemetry, escTelemetry, gateSpans, escSpans, sent };

  const ms = await waitFor('both stages to commit every record', async () =>
    (await drained(admin, names.groupId, names.topics.input)) && (await drained(admin, `${names.run}-escalation`, names.topics.escalation)), 100_000, 200);
  // Root spans end right after the publish (the gate's onChunk): wait for the last ones.
  await waitFor('every frame to finish its spans', () =>
    gateSpans.getFinishedSpans().filter((s) => s.name.startsWith('consume ')).length === GOOD + 1 &&
    escSpans.getFinishedSpans().filter((s) => s.name.startsWith('consume ')).length === GOOD, 10_000);
  console.log(`tracing (${kind}): ${GOOD} good + 1 bad frame through gate and escalation in ${ms.toFixed(0)} ms; ${gateSpans.getFinishedSpans().length} gate spans, ${escSpans.getFinishedSpans().length} escalation spans`);
}

async function stopRun(): Promise<void> {
  if (run) {
    await run.gate.shutdown(10_000);
    await run.escalation.shutdown(10_000);
    await run.gateTelemetry.shutdown();
    await run.escTelemetry.shutdown();
    await run.admin.close();
  }
  run = undefined;
}

const service = (s: ReadableSpan) => s.resource.attributes['service.name'];

describe.each(KAFKA_CLIENTS)('tracing (real broker) (%s)', (kind) => {
  beforeAll(() => startRun(kind), 150_000);
  afterAll(stopRun, 60_000);

  it('startGate and startEscalation should put each frame\'s spans of both stages into the camera\'s trace', () => {
    const { names, gateSpans, escSpans, sent } = run!;
    const all = [...gateSpans.getFinishedSpans(), ...escSpans.getFinishedSpans()];
    const batchSpans = all.filter((s) => s.name.endsWith(' batch'));
    const frameSpans = all.filter((s) => !s.name.endsWith(' batch'));
    // One trace per frame: every per-frame span belongs to one of the cameras' traces, each trace to one frame.
    expect(new Set(frameSpans.map((s) => s.spanContext().traceId))).toEqual(new Set(sent.map((s) => s.traceId)));

    for (const { msg, traceId, spanId } of sent.slice(0, GOOD)) {
      const trace = frameSpans.filter((s) => s.spanContext().traceId === traceId);
      const gateRoot = trace.find((s) => s.name === `consume ${names.topics.input}`)!;
      expect(service(gateRoot)).toBe('diffiqa-gate');
      expect(gateRoot.parentSpanContext?.spanId, `${msg.frameId}: the gate continues the camera's span`).toBe(spanId);
      expect(gateRoot.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': names.topics.input, 'messaging.consumer.group.name': names.groupId, 'diffiqa.camera.id': msg.cameraId, 'diffiqa.frame.id': msg.frameId, 'diffiqa.decision': 'BORDERLINE' });
      const gateChildren = trace.filter((s) => service(s) === 'diffiqa-gate' && s.parentSpanContext?.spanId === gateRoot.spanContext().spanId);
      expect(gateChildren.map((s) => s.name).sort()).toEqual(['decide', 'decode', 'prepare', `publish ${names.topics.escalation}`, 'regress']);
      const regress = gateChildren.find((s) => s.name === 'regress')!;
      expect(regress.attributes).toMatchObject({ 'diffiqa.model.id': 'tiny-regressor', 'diffiqa.model.version': 'fixture', 'diffiqa.execution_provider': 'cpu' });
      expect(typeof regress.attributes['diffiqa.score']).toBe('number');

      const escRoot = trace.find((s) => s.name === `consume ${names.topics.escalation}`)!;
      expect(service(escRoot)).toBe('diffiqa-escalation');
      expect(escRoot.parentSpanContext?.spanId, `${msg.frameId}: the escalation stage continues the gate's span`).toBe(gateRoot.spanContext().spanId);
      const escChildren = trace.filter((s) => s.parentSpanContext?.spanId === escRoot.spanContext().spanId);
      expect(escChildren.map((s) => s.name).sort()).toEqual(['decode', 'diffiqa', `publish ${names.topics.output}`]);
      expect(escChildren.find((s) => s.name === 'diffiqa')!.attributes).toMatchObject({ 'diffiqa.model.id': 'tiny-denoiser', 'diffiqa.escalation': 'ESCALATED' });
      expect(trace).toHaveLength(10);
    }

    // Batch spans stand apart, linked to the stage span of every frame they carried.
    const regressIds = new Set(frameSpans.filter((s) => s.name === 'regress').map((s) => s.spanContext().spanId));
    const linked = batchSpans.filter((s) => s.name === 'regress batch').flatMap((s) => s.links.map((l) => l.context.spanId));
    expect(new Set(linked)).toEqual(regressIds);
    const diffiqaIds = new Set(frameSpans.filter((s) => s.name === 'diffiqa').map((s) => s.spanContext().spanId));
    expect(new Set(batchSpans.filter((s) => s.name === 'diffiqa batch').flatMap((s) => s.links.map((l) => l.context.spanId)))).toEqual(diffiqaIds);
  });

  it('startGate should dead-letter a bad frame inside its own trace, marked with the reason', async () => {
    const { names, gateSpans, admin, codec, sent } = run!;
    const bad = sent[GOOD];
    const trace = gateSpans.getFinishedSpans().filter((s) => s.spanContext().traceId === bad.traceId);
    const root = trace.find((s) => s.name === `consume ${names.topics.input}`)!;
    expect(root.parentSpanContext?.spanId).toBe(bad.spanId);
    expect(root.status.code).toBe(2);
    expect(trace.find((s) => s.name === 'decode')!.attributes['error.type']).toBe('INPUT_AVRO_DECODE');
    expect(trace.some((s) => s.name === `publish ${names.topics.dlq}`)).toBe(true);
    const [dead] = await admin.readAll(names.topics.dlq, { timeoutMs: 30_000 });
    expect((await codec.decode<DeadLetter>(dead.value!, deadLetterType)).reasonCode).toBe('INPUT_AVRO_DECODE');
    expect(traceOf(dead.headers.traceparent?.toString())).toBe(bad.traceId);
    expect(spanOf(dead.headers.traceparent?.toString())).toBe(root.spanContext().spanId);
  });

  it('the escalation request and the final event should carry the frame\'s trace context, not the camera\'s raw header', async () => {
    const { names, admin, codec, gateSpans, escSpans, sent } = run!;
    const byFrame = new Map(sent.map((s) => [s.msg.frameId, s]));
    const rootOf = (spans: ReadableSpan[], topic: string, traceId: string) => spans.find((s) => s.name === `consume ${topic}` && s.spanContext().traceId === traceId)!.spanContext().spanId;

    const requests = await admin.readAll(names.topics.escalation, { timeoutMs: 30_000 });
    expect(requests).toHaveLength(GOOD);
    for (const r of requests) {
      const req = await codec.decode<EscalationRequest>(r.value!, escalationRequestType);
      const s = byFrame.get(req.frameId)!;
      const gateRoot = rootOf(gateSpans.getFinishedSpans(), names.topics.input, s.traceId);
      expect(r.headers.traceparent?.toString()).toBe(`00-${s.traceId}-${gateRoot}-01`);
      expect(req.traceparent).toBe(`00-${s.traceId}-${gateRoot}-01`);
      expect(r.headers.tracestate?.toString()).toBe(`camera=${s.msg.cameraId}`);
    }

    const events = await admin.readAll(names.topics.output, { timeoutMs: 30_000 });
    expect(events).toHaveLength(GOOD);
    for (const r of events) {
      const ev = await codec.decode<FaceQuality>(r.value!, faceQualityType);
      const s = byFrame.get(ev.frameId)!;
      expect(ev.final).toBe(true);
      expect(ev.escalation).toBe('ESCALATED');
      const escRoot = rootOf(escSpans.getFinishedSpans(), names.topics.escalation, s.traceId);
      expect(r.headers.traceparent?.toString(), `${ev.frameId}: output event trace context`).toBe(`00-${s.traceId}-${escRoot}-01`);
      expect(r.headers.tracestate?.toString()).toBe(`camera=${s.msg.cameraId}`);
    }
  });

  it('/metrics should expose the counters of both stages after the run', async () => {
    const { names, gateTelemetry, escTelemetry } = run!;
    // Lag is polled every 200 ms: after the drain it reads 0 on every input partition.
    await waitFor('lag 0 on every partition', async () => {
      const body = (await get(gateTelemetry, '/metrics')).body;
      return [0, 1, 2].every((p) => body.includes(`diffiqa_consumer_lag{topic="${names.topics.input}",partition="${p}"} 0`));
    }, 10_000);

    const gate = await get(gateTelemetry, '/metrics');
    expect(gate.status).toBe(200);
    console.log(`tracing: gate /metrics is ${gate.body.split('\n').length} lines`);
    expect(gate.body).toContain(`diffiqa_frames_in_total ${GOOD + 1}\n`);
    expect(gate.body).toContain(`diffiqa_frames_out_total{decision="BORDERLINE"} ${GOOD}\n`);
    expect(gate.body).toContain('diffiqa_frames_out_total{decision="DLQ"} 1\n');
    expect(gate.body).toContain('diffiqa_dlq_total{reason="INPUT_AVRO_DECODE",stage="decode"} 1\n');
    expect(gate.body).toContain(`diffiqa_records_out_total{topic="${names.topics.escalation}"} ${GOOD}\n`);
    for (const stage of ['decode', 'prepare', 'regress', 'decide']) expect(gate.body).toMatch(new RegExp(`diffiqa_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`));
    expect(gate.body).toMatch(/diffiqa_inference_batch_size_count\{model="tiny-regressor",provider="cpu"\} [1-9]/);
    expect(gate.body).toContain('diffiqa_model_info{model="tiny-regressor",version="fixture",provider="cpu"} 1\n');
    expect(gate.body).toContain('diffiqa_inference_queue_depth{model="tiny-regressor"} 0\n');
    expect(gate.body).toContain('diffiqa_ready 1\n');
    const perCamera = [...gate.body.matchAll(/diffiqa_score_count\{camera_id="([^"]+)",model="tiny-regressor"\} (\d+)/g)];
    expect(perCamera.reduce((n, m) => n + Number(m[2]), 0)).toBe(GOOD);
    expect(perCamera.length).toBe(new Set(run!.sent.slice(0, GOOD).map((s) => s.msg.cameraId)).size);

    const esc = await get(escTelemetry, '/metrics');
    expect(esc.body).toContain(`diffiqa_frames_in_total ${GOOD}\n`);
    expect(esc.body).toContain('diffiqa_escalation_skipped_overload_total 0\n');
    expect(esc.body).toMatch(/diffiqa_inference_batch_size_count\{model="tiny-denoiser",provider="cpu"\} [1-9]/);
    expect(esc.body).toContain('diffiqa_model_info{model="tiny-denoiser",version="fixture",provider="cpu"} 1\n');
    const escScores = [...esc.body.matchAll(/diffiqa_score_count\{camera_id="[^"]+",model="tiny-denoiser"\} (\d+)/g)];
    expect(escScores.reduce((n, m) => n + Number(m[1]), 0)).toBe(GOOD);
    expect(esc.body).toContain(`diffiqa_records_out_total{topic="${names.topics.output}"} ${GOOD}\n`);

    for (const t of [gateTelemetry, escTelemetry]) {
      expect(await get(t, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
      expect(await get(t, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
    }
  });

  it('a camera whose scores drop should produce exactly one drift alert', async () => {
    const { codec: traceCodec } = run!;
    // The fixture regressor is untrained: learn which faces it scores high and low from the run above.
    const events = await run!.admin.readAll(run!.names.topics.output, { timeoutMs: 30_000 });
    const scoreOf = new Map<number, number>();
    for (const r of events) {
      const ev = await traceCodec.decode<FaceQuality>(r.value!, faceQualityType);
      scoreOf.set(Number(ev.frameId.split('-').pop()), ev.regressionScore!);
    }
    const ranked = [...scoreOf].sort((a, b) => b[1] - a[1]);
    const high = ranked.slice(0, 4);
    const low = ranked.slice(-4);
    const gap = Math.min(...high.map(([, s]) => s)) - Math.max(...low.map(([, s]) => s));
    expect(gap, 'the fixture regressor must tell these faces apart').toBeGreaterThan(1e-5);

    const names = uniqueNames('drift', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const codec = createCodec(await embeddedRegistry(), names.topics);
    const sources: FaceSource[] = await loadFaceSources({ count: 50, cacheFile: path.join(os.tmpdir(), 'diffiqa-integrity-lfw-landmarks-50.json'), mirrorDir: fx.mirrorDir, modelCacheDir: fx.cacheDir });
    const crop = async (n: number, source: number): Promise<CropMessage> => {
      const src = sources[source];
      const c: FaceCrop = {
        cameraId: 'drift-cam', frameId: `${names.run}-${n}`, trackId: null, captureTimestamp: Date.now(), image: src.jpeg, imageFormat: 'JPEG',
        landmarks: src.landmarks.map(([x, y]) => ({ x, y })), detectorScore: null, bbox: null, metadata: {},
      };
      return { key: 'drift-cam', value: await codec.encode(valueSubject(names.topics.input), c), headers: {}, kind: 'good', cameraId: 'drift-cam', frameId: c.frameId };
    };
    // 8 high-scoring faces form the baseline, then 24 low-scoring ones: the window of 8 drifts once and stays drifted.
    const msgs = await Promise.all([
      ...Array.from({ length: 8 }, (_, n) => crop(n, high[n % 4][0])),
      ...Array.from({ length: 24 }, (_, n) => crop(8 + n, low[n % 4][0])),
    ]);
    await admin.createTopics([{ topic: names.topics.input, partitions: 1 }]);
    await produce(client, names.topics.input, msgs, { partitions: 1 });

    const cfg = gateConfig(names, fx, {
      'kafka.alertsTopic': `${names.run}-alerts`, 'drift.baselineSize': 8, 'drift.windowSize': 8,
      'drift.medianShift': gap / 2, 'drift.acceptRateShift': 1, 'gate.inFlightPerPartition': 4,
    });
    const telemetry = await startTelemetry(cfg, { role: 'gate', client, log: testLogger(), ephemeralPort: true });
    const app = await startGate(cfg, client, testLogger(), telemetry);
    try {
      await waitFor('the gate to commit every drift frame', () => drained(admin, names.groupId, names.topics.input), 60_000, 200);
      await waitFor('the last chunk to be observed', () => app.gate.counts.published === msgs.length, 10_000);
      await telemetry.flushAlerts();
      const alerts = await admin.readAll(`${names.run}-alerts`, { timeoutMs: 30_000 });
      expect(alerts).toHaveLength(1);
      const alert = JSON.parse(alerts[0].value!.toString()) as DriftAlert;
      console.log(`drift: baseline median ${alert.baseline.median.toFixed(6)}, recent median ${alert.recent.median.toFixed(6)}, bound ${(gap / 2).toFixed(6)}`);
      expect(alert).toMatchObject({ type: 'drift', cameraId: 'drift-cam', service: 'diffiqa-gate' });
      expect(alert.reasons).toContain('median');
      expect(alert.recent.median).toBeLessThan(alert.baseline.median);
      expect(alerts[0].key?.toString()).toBe('drift-cam');
      const body = (await get(telemetry, '/metrics')).body;
      expect(body).toContain('diffiqa_drift_alerts_total{camera_id="drift-cam",type="drift"} 1\n');
      expect(body).toContain('diffiqa_drift_active{camera_id="drift-cam"} 1\n');
    } finally {
      await app.shutdown(10_000);
      await telemetry.shutdown();
      await admin.close();
    }
  }, 120_000);
});

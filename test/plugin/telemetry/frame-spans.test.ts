import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Frame } from '../../../src/plugin/core/frame.js';
import type { OutRecord } from '../../../src/plugin/kafka/port.js';
import { Pipeline } from '../../../src/plugin/pipeline/pipeline.js';
import { traceHeaders } from '../../../src/plugin/core/trace-carrier.js';
import { FrameTracer } from '../../../src/plugin/telemetry/frame-spans.js';
import { installContextManager } from '../../../src/plugin/telemetry/tracing.js';
import { decideStage, decodeStage, frameAt, inferStage, stage, traceparent } from './helpers.js';

installContextManager();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
afterAll(() => provider.shutdown());
beforeEach(() => exporter.reset());

const spans = () => exporter.getFinishedSpans();
const byName = (name: string) => spans().filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

async function run(frames: Frame[], ft = new FrameTracer(tracer, { groupId: 'g', batchStages: ['regress'] })) {
  const p = new Pipeline([decodeStage(), inferStage(), decideStage()], ft.wrap);
  await p.run(frames, new AbortController().signal);
  return ft;
}

/** One record per frame, as the output builders make them (headers from the carrier). */
const recordsFor = (frames: Frame[]): OutRecord[] => frames.map((f) => ({ topic: f.error ? 'dlq' : 'out', key: null, value: Buffer.alloc(0), headers: { ...traceHeaders(f) } }));

describe('FrameTracer', () => {
  it('wrap should give every frame a root continuing its incoming traceparent and one child span per stage', async () => {
    const incoming = [traceparent(), traceparent(), traceparent()];
    const frames = incoming.map((tp, i) => frameAt(i, { traceparent: tp.header }));
    const ft = await run(frames);
    ft.published(frames, recordsFor(frames));

    incoming.forEach((tp) => {
      const trace = spans().filter((s) => s.spanContext().traceId === tp.traceId);
      const root = trace.find((s) => s.name === 'consume in')!;
      expect(root, 'root span of the frame').toBeDefined();
      expect(root.kind).toBe(SpanKind.CONSUMER);
      expect(parentOf(root)).toBe(tp.spanId);
      const children = trace.filter((s) => parentOf(s) === root.spanContext().spanId).map((s) => s.name).sort();
      expect(children).toEqual(['decide', 'decode', 'publish out', 'regress']);
      expect(trace).toHaveLength(5);
    });
  });

  it('wrap should put the frame, score, decision, model and Kafka position on the spans', async () => {
    const frames = [frameAt(4, { traceparent: traceparent().header }, 'cam-x')];
    const ft = await run(frames);
    ft.published(frames, recordsFor(frames));
    const decide = byName('decide')[0];
    expect(decide.attributes).toMatchObject({
      'diffiqa.camera.id': 'cam-x', 'diffiqa.frame.id': 'frame-4', 'diffiqa.score': 0.54, 'diffiqa.score.std': 0.01,
      'diffiqa.decision': 'ACCEPT', 'diffiqa.model.id': 'reg', 'diffiqa.model.version': '1.2', 'diffiqa.execution_provider': 'cpu',
      'messaging.destination.partition.id': '1', 'messaging.kafka.offset': 4, 'diffiqa.stage': 'decide',
    });
    const root = byName('consume in')[0];
    expect(root.attributes).toMatchObject({
      'messaging.system': 'kafka', 'messaging.destination.name': 'in', 'messaging.consumer.group.name': 'g',
      'messaging.operation.type': 'process', 'messaging.kafka.message.key': 'cam-x', 'diffiqa.decision': 'ACCEPT',
    });
    const publish = byName('publish out')[0];
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.attributes).toMatchObject({ 'messaging.destination.name': 'out', 'messaging.operation.type': 'send' });
  });

  it('wrap should link the batch span of a batch stage to the stage span of every frame in the call', async () => {
    const frames = [0, 1, 2].map((i) => frameAt(i, { traceparent: traceparent().header }));
    await run(frames);
    const [batch] = byName('regress batch');
    expect(batch.parentSpanContext).toBeUndefined();
    expect(batch.attributes).toMatchObject({ 'messaging.batch.message_count': 3, 'diffiqa.model.id': 'reg', 'diffiqa.execution_provider': 'cpu' });
    const perFrame = byName('regress').map((s) => s.spanContext().spanId).sort();
    expect(batch.links.map((l) => l.context.spanId).sort()).toEqual(perFrame);
    expect(byName('decide batch')).toEqual([]);
  });

  it('wrap should start a new trace for a frame without a valid traceparent', async () => {
    const frames = [frameAt(0), frameAt(1, { traceparent: 'not-a-traceparent' })];
    const ft = await run(frames);
    ft.published(frames, recordsFor(frames));
    const roots = byName('consume in');
    expect(roots).toHaveLength(2);
    for (const r of roots) expect(r.parentSpanContext).toBeUndefined();
    expect(new Set(roots.map((r) => r.spanContext().traceId)).size).toBe(2);
  });

  it('wrap should mark the spans of a failed frame with its error code and keep its siblings clean', async () => {
    const frames = [frameAt(12, { traceparent: traceparent().header }), frameAt(13, { traceparent: traceparent().header })];
    const ft = await run(frames);
    ft.published(frames, recordsFor(frames));
    const failedTrace = spans().filter((s) => s.attributes['messaging.kafka.offset'] === 13 || s.name === 'publish dlq');
    const decode = failedTrace.find((s) => s.name === 'decode')!;
    expect(decode.status.code).toBe(SpanStatusCode.ERROR);
    expect(decode.attributes['error.type']).toBe('INPUT_AVRO_DECODE');
    expect(failedTrace.find((s) => s.name === 'consume in')!.status.code).toBe(SpanStatusCode.ERROR);
    // The failed frame never reached the later stages.
    expect(failedTrace.filter((s) => s.name === 'regress' || s.name === 'decide')).toEqual([]);
    const fine = spans().filter((s) => s.attributes['messaging.kafka.offset'] === 12);
    expect(fine.every((s) => s.status.code !== SpanStatusCode.ERROR)).toBe(true);
  });

  it('wrap should record the exception on every span of a stage that throws, and rethrow it', async () => {
    const ft = new FrameTracer(tracer, { groupId: 'g', batchStages: ['boom'] });
    const throwing = ft.wrap({ name: 'boom', process: async () => { throw new Error('whole batch failed'); }, close: async () => {} });
    await expect(throwing.process([frameAt(0), frameAt(1)], new AbortController().signal)).rejects.toThrow('whole batch failed');
    const failed = spans().filter((s) => s.name.startsWith('boom'));
    expect(failed).toHaveLength(3);
    for (const s of failed) {
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
      expect(s.events.some((e) => e.name === 'exception')).toBe(true);
    }
  });

  it('wrap should hand derived records the root span context, keeping the incoming tracestate', async () => {
    const tp = traceparent();
    const f = frameAt(0, { traceparent: tp.header, tracestate: 'cam=7' });
    const ft = await run([f]);
    const h = traceHeaders(f);
    const root = ft.contextOf(f);
    expect(h.traceparent).toMatch(new RegExp(`^00-${tp.traceId}-[0-9a-f]{16}-01$`));
    expect(h.traceparent).not.toContain(tp.spanId);
    expect(h.tracestate).toBe('cam=7');
    ft.published([f], recordsFor([f]));
    expect(h.traceparent.split('-')[2]).toBe(byName('consume in')[0].spanContext().spanId);
    expect(root).toBeDefined();
  });

  it('wrap should run a one-frame batch inside the frame span so nested work joins its trace', async () => {
    const tp = traceparent();
    const nested: string[] = [];
    const ft = new FrameTracer(tracer, { groupId: 'g' });
    const inner = stage('inner', () => {
      const s = tracer.startSpan('nested work');
      nested.push(s.spanContext().traceId);
      s.end();
    });
    await ft.wrap(inner).process([frameAt(0, { traceparent: tp.header })], new AbortController().signal);
    expect(nested).toEqual([tp.traceId]);
    expect(parentOf(byName('nested work')[0])).toBe(byName('inner')[0].spanContext().spanId);
  });

  it('published should end each root once, after its publish spans', async () => {
    const frames = [frameAt(0, { traceparent: traceparent().header })];
    const ft = await run(frames);
    expect(byName('consume in')).toEqual([]);
    ft.published(frames, recordsFor(frames));
    const [root] = byName('consume in');
    const [pub] = byName('publish out');
    const ns = (t: [number, number]) => t[0] * 1e9 + t[1];
    expect(ns(root.endTime)).toBeGreaterThanOrEqual(ns(pub.endTime));
    expect(ns(pub.startTime)).toBeGreaterThanOrEqual(ns(byName('decide')[0].endTime) - 1e6);
  });
});

import {
  context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapGetter, type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Frame } from '../core/frame.js';
import type { Stage } from '../core/stage.js';
import type { OutRecord } from '../kafka/port.js';
import { setTraceCarrier } from '../core/trace-carrier.js';
import * as A from './semconv.js';

const propagator = new W3CTraceContextPropagator();
const headerGetter: TextMapGetter<Record<string, Buffer | undefined>> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => h[key]?.toString(),
};

interface FrameTrace { root: Span; ctx: Context; lastEnd: number }

export interface FrameTracerOptions {
  groupId: string;
  /** Stages that run models in batches: they also get one span per call, linked to its frames' spans. */
  batchStages?: readonly string[];
}

const epochNow = () => performance.timeOrigin + performance.now();

/** What a frame has become so far, as span attributes (set after each stage and on the root). */
export function frameAttributes(f: Frame): Attributes {
  const a: Attributes = { [A.CAMERA_ID]: f.cameraId, [A.FRAME_ID]: f.id };
  const r = f.full ?? f.regression;
  if (r) {
    a[A.SCORE] = r.score;
    if (r.std !== undefined) a[A.SCORE_STD] = r.std;
    a[A.MODEL_ID] = r.modelId;
    a[A.MODEL_VERSION] = r.modelVersion;
    if (r.executionProvider) a[A.EXECUTION_PROVIDER] = r.executionProvider;
  }
  if (f.full && f.regression) a[A.REGRESSION_SCORE] = f.regression.score;
  if (f.decision) a[A.DECISION] = f.decision;
  if (f.escalation) a[A.ESCALATION] = f.escalation;
  if (f.aligned) a[A.LANDMARK_SOURCE] = f.aligned.landmarkSource;
  if (f.source) {
    a[A.MESSAGING_DESTINATION_PARTITION_ID] = String(f.source.partition);
    a[A.MESSAGING_KAFKA_OFFSET] = Number(f.source.offset);
  }
  if (f.error) a[A.ERROR_TYPE] = f.error.code;
  return a;
}

function markError(span: Span, f: Frame): void {
  if (f.error) span.setStatus({ code: SpanStatusCode.ERROR, message: `${f.error.code}: ${f.error.message}`.slice(0, 500) });
}

/**
 * Spans of frames, kept out of `Frame`: a root span per frame (its consumption, continuing the
 * input's W3C trace context), a child per stage, and a publish span per record derived from it.
 * The root's context is what derived records carry, so the escalation stage joins the trace.
 */
export class FrameTracer {
  readonly #tracer: Tracer;
  readonly #o: FrameTracerOptions;
  readonly #frames = new WeakMap<Frame, FrameTrace>();

  constructor(tracer: Tracer, o: FrameTracerOptions) {
    this.#tracer = tracer;
    this.#o = o;
  }

  readonly wrap = (stage: Stage): Stage => ({
    name: stage.name,
    process: (batch, signal) => this.#process(stage, batch, signal),
    close: () => stage.close(),
  });

  /** The frame's root span context (started on first sight). */
  contextOf(f: Frame): Context {
    return this.#trace(f).ctx;
  }

  /** Runs fn inside the frame's span: logs written there carry its trace_id and span_id. */
  withFrame<T>(f: Frame, fn: () => T): T {
    return context.with(this.contextOf(f), fn);
  }

  #trace(f: Frame): FrameTrace {
    let t = this.#frames.get(f);
    if (t) return t;
    const parent = f.source ? propagator.extract(ROOT_CONTEXT, f.source.headers, headerGetter) : ROOT_CONTEXT;
    const topic = f.source?.topic ?? 'files';
    const attributes: Attributes = {
      [A.MESSAGING_SYSTEM]: 'kafka', [A.MESSAGING_OPERATION_TYPE]: 'process', [A.MESSAGING_OPERATION_NAME]: 'consume',
      [A.MESSAGING_DESTINATION_NAME]: topic, [A.MESSAGING_CONSUMER_GROUP_NAME]: this.#o.groupId, ...frameAttributes(f),
    };
    if (f.source?.key) attributes[A.MESSAGING_KAFKA_MESSAGE_KEY] = f.source.key.toString();
    const startTime = performance.timeOrigin + f.receivedAt;
    const root = this.#tracer.startSpan(`consume ${topic}`, { kind: SpanKind.CONSUMER, startTime, attributes }, parent);
    const ctx = trace.setSpan(parent, root);
    const carrier: Record<string, string> = {};
    propagator.inject(ctx, carrier, { set: (c, k, v) => { c[k] = v; } });
    setTraceCarrier(f, carrier);
    t = { root, ctx, lastEnd: startTime };
    this.#frames.set(f, t);
    return t;
  }

  async #process(stage: Stage, batch: Frame[], signal: AbortSignal): Promise<Frame[]> {
    const traces = batch.map((f) => this.#trace(f));
    const spans = batch.map((f, i) => this.#tracer.startSpan(stage.name, { attributes: { [A.STAGE]: stage.name, ...frameAttributes(f) } }, traces[i].ctx));
    const batchSpan = this.#o.batchStages?.includes(stage.name)
      ? this.#tracer.startSpan(`${stage.name} batch`, {
        root: true,
        attributes: { [A.STAGE]: stage.name, [A.MESSAGING_BATCH_MESSAGE_COUNT]: batch.length },
        links: spans.map((s) => ({ context: s.spanContext() })),
      })
      : undefined;
    // One frame: its own span is the active one, so logs and nested spans land in its trace.
    const active = batch.length === 1 ? trace.setSpan(traces[0].ctx, spans[0]) : batchSpan ? trace.setSpan(ROOT_CONTEXT, batchSpan) : context.active();
    try {
      return await context.with(active, () => stage.process(batch, signal));
    } catch (err) {
      for (const s of [...spans, ...(batchSpan ? [batchSpan] : [])]) {
        s.recordException(err as Error);
        s.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      }
      throw err;
    } finally {
      const end = epochNow();
      batch.forEach((f, i) => {
        spans[i].setAttributes(frameAttributes(f));
        markError(spans[i], f);
        spans[i].end(end);
        traces[i].lastEnd = end;
      });
      if (batchSpan) {
        const r = batch.find((f) => f.full ?? f.regression);
        const res = r ? (r.full ?? r.regression)! : undefined;
        if (res) batchSpan.setAttributes({ [A.MODEL_ID]: res.modelId, [A.MODEL_VERSION]: res.modelVersion, ...(res.executionProvider ? { [A.EXECUTION_PROVIDER]: res.executionProvider } : {}) });
        batchSpan.end(end);
      }
    }
  }

  /**
   * After a chunk's records are acknowledged (and committed): a publish span per record, under
   * the frame it derives from (matched by the trace context it carries), then the frame's root ends.
   */
  published(frames: Frame[], records: OutRecord[]): void {
    const bySpan = new Map<string, OutRecord[]>();
    for (const r of records) {
      const tp = r.headers?.traceparent?.toString();
      const spanId = tp?.split('-')[2];
      if (spanId) bySpan.set(spanId, [...(bySpan.get(spanId) ?? []), r]);
    }
    const now = epochNow();
    for (const f of frames) {
      const t = this.#trace(f);
      for (const r of bySpan.get(t.root.spanContext().spanId) ?? []) {
        const span = this.#tracer.startSpan(`publish ${r.topic}`, {
          kind: SpanKind.PRODUCER, startTime: t.lastEnd,
          attributes: {
            [A.MESSAGING_SYSTEM]: 'kafka', [A.MESSAGING_OPERATION_TYPE]: 'send', [A.MESSAGING_OPERATION_NAME]: 'publish',
            [A.MESSAGING_DESTINATION_NAME]: r.topic, [A.CAMERA_ID]: f.cameraId, [A.FRAME_ID]: f.id, ...(f.decision ? { [A.DECISION]: f.decision } : {}),
          },
        }, t.ctx);
        span.end(now);
      }
      t.root.setAttributes(frameAttributes(f));
      markError(t.root, f);
      t.root.end(now);
      this.#frames.delete(f);
    }
  }
}

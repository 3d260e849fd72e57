import { createHash } from 'node:crypto';
import type { Frame } from '../core/frame.js';
import type { AvroCodec } from '../../schemas/codec.js';
import type { DeadLetter, EscalationRequest, FaceQuality } from '../../schemas/index.js';
import { valueSubject } from '../../schemas/registry.js';
import type { OutRecord } from '../kafka/port.js';
import { traceHeaders } from '../core/trace-carrier.js';
import type { Thresholds } from './stages/decide.js';
import type { Topics } from './codecs.js';

export interface OutputOptions {
  topics: Topics;
  /** For frames without a camera rule (no decide stage set one); the rule's own values win. */
  thresholds: Thresholds;
  /** Borderline frames go to the escalation topic; false: their final event carries the regression decision. Same fallback. */
  escalate: boolean;
  provisional: boolean;
  /** Dead letters keep the original message only up to this many bytes (value + headers); see deadLetter(). */
  deadLetterMaxOriginalBytes?: number;
}

/** Headers every derived record carries: the trace context and where it came from. */
export function lineageHeaders(f: Frame, extra: Record<string, string> = {}): Record<string, string | Buffer> {
  const h: Record<string, string | Buffer> = { ...extra, ...traceHeaders(f) };
  if (f.source) h['diffiqa-source'] = `${f.source.topic}/${f.source.partition}/${f.source.offset}`;
  return h;
}

function sourceOf(f: Frame) {
  return { topic: f.source?.topic ?? '', partition: f.source?.partition ?? -1, offset: f.source?.offset ?? '' };
}

/** The frame's camera rule; a frame no decide stage saw (a custom pipeline) falls back to the app's global one. */
function ruleOf(f: Frame, o: OutputOptions): { thresholds: Thresholds; escalate: boolean; enforced: boolean } {
  if (!f.rule) return { thresholds: o.thresholds, escalate: o.escalate, enforced: true };
  return { thresholds: { accept: f.rule.accept, reject: f.rule.reject }, escalate: f.rule.escalate, enforced: f.rule.mode === 'enforce' };
}

export function qualityEvent(f: Frame, o: { final: boolean; thresholds: Thresholds; escalation: FaceQuality['escalation']; enforced: boolean }): FaceQuality {
  const r = f.regression!;
  return {
    cameraId: f.cameraId, frameId: f.id, trackId: f.trackId ?? null, captureTimestamp: f.captureTs ?? 0,
    score: r.score, scoreStd: r.std ?? null, decision: f.decision!, final: o.final,
    model: { id: r.modelId, version: r.modelVersion, role: 'regressor' }, executionProvider: r.executionProvider ?? null,
    thresholds: o.thresholds, regressionScore: null, escalation: o.escalation,
    landmarkSource: f.aligned?.landmarkSource ?? null, timings: { ...f.timings, totalMs: performance.now() - f.receivedAt },
    source: sourceOf(f), producedAt: Date.now(), enforced: o.enforced,
    canary: f.canary ? { score: f.canary.score, modelId: f.canary.modelId, modelVersion: f.canary.modelVersion, decision: f.canary.decision } : null,
  };
}

/**
 * The dead letter of a failed frame. It keeps the original value and headers verbatim for replay
 * while they fit in `maxOriginalBytes` (the DLQ's share of the broker's record limit); beyond it,
 * or when the gate asks for it after the broker refused the record, they are left out and the
 * letter says so, with the value's size and sha256 (the topic/partition/offset find the original).
 */
export function deadLetter(f: Frame, maxOriginalBytes = Infinity): DeadLetter {
  const headers: Record<string, Buffer> = {};
  let size = f.source?.value?.length ?? 0;
  for (const [k, v] of Object.entries(f.source?.headers ?? {})) {
    if (!v) continue;
    headers[k] = v;
    size += k.length + v.length;
  }
  const value = f.source?.value ?? null;
  const omitted = size > maxOriginalBytes;
  return {
    originalKey: f.source?.key ?? null, originalValue: omitted ? null : value, originalHeaders: omitted ? {} : headers,
    ...sourceOf(f), reasonCode: f.error!.code, canRetry: f.error!.canRetry, stage: f.errorStage ?? 'unknown',
    message: f.error!.message.slice(0, 2000), failedAt: Date.now(),
    cameraId: clipId(f.cameraId), frameId: clipId(f.id),
    originalOmitted: omitted, originalSize: value?.length ?? null,
    originalSha256: value ? createHash('sha256').update(value).digest('hex') : null,
  };
}

/** Ids come from the input: a dead letter whose original was left out must not stay large through them. */
function clipId(id: string | undefined): string | null {
  return id ? id.slice(0, 4096) : null;
}

/**
 * Every input frame ends here as: a DLQ record, a final event, or (borderline) an escalation
 * request whose final event the escalation stage publishes — plus an optional provisional event.
 */
export async function buildOutputs(frames: Frame[], codec: AvroCodec, o: OutputOptions): Promise<OutRecord[]> {
  const out: OutRecord[] = [];
  const key = (f: Frame) => f.cameraId || null;
  for (const f of frames) {
    if (f.error || !f.regression || !f.decision) {
      out.push({ topic: o.topics.dlq, key: f.source?.key ?? null, value: await codec.encode(valueSubject(o.topics.dlq), deadLetter(f, o.deadLetterMaxOriginalBytes)), headers: lineageHeaders(f, { 'diffiqa-reason': f.error?.code ?? 'INTERNAL' }) });
      continue;
    }
    const rule = ruleOf(f, o);
    if (f.decision === 'BORDERLINE' && rule.escalate) {
      const req: EscalationRequest = {
        cameraId: f.cameraId, frameId: f.id, trackId: f.trackId ?? null, captureTimestamp: f.captureTs ?? 0,
        alignedRgb: Buffer.from(f.aligned!.data.buffer, f.aligned!.data.byteOffset, f.aligned!.data.byteLength),
        landmarkSource: f.aligned!.landmarkSource, regressionScore: f.regression.score,
        regressionModel: { id: f.regression.modelId, version: f.regression.modelVersion },
        thresholds: rule.thresholds, traceparent: traceHeaders(f).traceparent ?? null,
        source: sourceOf(f), enqueuedAt: Date.now(), enforced: rule.enforced,
      };
      out.push({ topic: o.topics.escalation, key: key(f), value: await codec.encode(valueSubject(o.topics.escalation), req), headers: lineageHeaders(f) });
      if (o.provisional) {
        out.push({ topic: o.topics.output, key: key(f), value: await codec.encode(valueSubject(o.topics.output), qualityEvent(f, { final: false, thresholds: rule.thresholds, escalation: 'ESCALATED', enforced: rule.enforced })), headers: lineageHeaders(f) });
      }
      continue;
    }
    out.push({ topic: o.topics.output, key: key(f), value: await codec.encode(valueSubject(o.topics.output), qualityEvent(f, { final: true, thresholds: rule.thresholds, escalation: 'NONE', enforced: rule.enforced })), headers: lineageHeaders(f) });
  }
  return out;
}

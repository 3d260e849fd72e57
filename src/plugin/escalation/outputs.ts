import type { Frame } from '../core/frame.js';
import type { AvroCodec } from '../../schemas/codec.js';
import type { FaceQuality } from '../../schemas/index.js';
import { valueSubject } from '../../schemas/registry.js';
import type { OutRecord } from '../kafka/port.js';
import { deadLetter, lineageHeaders } from '../pipeline/outputs.js';

/** The final event of a borderline frame: full-DifFIQA score (or the flagged inline fallback), by its camera's rule (DiffusionStage). */
export function finalEvent(f: Frame): FaceQuality {
  const skipped = f.escalation === 'SKIPPED_OVERLOAD';
  const r = skipped ? f.regression! : f.full!;
  const [topic, partition, offset] = (f.metadata?.origin ?? '//').split('/');
  return {
    cameraId: f.cameraId, frameId: f.id, trackId: f.trackId ?? null, captureTimestamp: f.captureTs ?? 0,
    score: r.score, scoreStd: r.std ?? null, decision: f.decision!, final: true,
    model: { id: r.modelId, version: r.modelVersion, role: skipped ? 'regressor' : 'diffiqa' },
    executionProvider: r.executionProvider ?? null,
    thresholds: skipped ? { accept: Number(f.metadata!.gateAccept), reject: Number(f.metadata!.gateReject) } : { ...f.rule!.escalation },
    regressionScore: f.regression!.score, escalation: skipped ? 'SKIPPED_OVERLOAD' : 'ESCALATED',
    landmarkSource: f.aligned?.landmarkSource ?? null,
    timings: { ...f.timings, queuedMs: f.enqueuedAt ? Date.now() - f.enqueuedAt : 0, ...(f.full ? { repeats: f.full.repeats, unetCalls: f.full.unetCalls } : {}) },
    // The event points at the original FaceCrop, so downstream joins on one key for both stages.
    source: { topic: topic ?? '', partition: Number(partition ?? -1), offset: offset ?? '' },
    producedAt: Date.now(), enforced: f.rule?.mode !== 'shadow',
    // The canary split is the gate's (inline models); full DifFIQA has no candidate.
    canary: null,
  };
}

export async function buildEscalationOutputs(frames: Frame[], codec: AvroCodec, o: { outputTopic: string; dlqTopic: string }): Promise<OutRecord[]> {
  const out: OutRecord[] = [];
  for (const f of frames) {
    if (f.error || !f.decision) {
      out.push({ topic: o.dlqTopic, key: f.source?.key ?? null, value: await codec.encode(valueSubject(o.dlqTopic), deadLetter(f)), headers: lineageHeaders(f, { 'diffiqa-reason': f.error?.code ?? 'INTERNAL' }) });
      continue;
    }
    const headers = lineageHeaders(f);
    // The gate's lineage header names the original crop; keep it so consumers dedupe across stages.
    const origin = f.source?.headers['diffiqa-source'];
    if (origin) headers['diffiqa-source'] = origin;
    out.push({ topic: o.outputTopic, key: f.cameraId || null, value: await codec.encode(valueSubject(o.outputTopic), finalEvent(f)), headers });
  }
  return out;
}

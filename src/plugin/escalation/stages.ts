import { GateError } from '../core/errors.js';
import type { Frame } from '../core/frame.js';
import type { Stage } from '../core/stage.js';
import { ALIGNED_RGB_BYTES, escalationRequestType, type EscalationRequest } from '../../schemas/index.js';
import type { AvroCodec } from '../../schemas/codec.js';
import type { DiffusionScorer } from '../diffusion/scorer.js';
import { perFrame } from '../pipeline/pipeline.js';
import { decide } from '../pipeline/stages/decide.js';
import type { PolicySwitch } from '../config/cameras.js';

/** EscalationRequest → frame with the aligned face and the gate's inline score. */
export class DecodeEscalationStage implements Stage {
  readonly name = 'decode';
  constructor(readonly codec: AvroCodec, readonly maxMessageBytes: number) {}

  process(frames: Frame[]): Promise<Frame[]> {
    return perFrame(this.name, frames, async (f) => {
      const value = f.source?.value;
      if (!value || value.length === 0) throw new GateError('INPUT_AVRO_DECODE', 'message has no value');
      if (value.length > this.maxMessageBytes) throw new GateError('INPUT_TOO_LARGE', `message is ${value.length} bytes, over ${this.maxMessageBytes}`);
      const r = await this.codec.decode<EscalationRequest>(value, escalationRequestType);
      if (r.alignedRgb.length !== ALIGNED_RGB_BYTES) throw new GateError('INPUT_IMAGE_FORMAT', `alignedRgb has ${r.alignedRgb.length} bytes, expected ${ALIGNED_RGB_BYTES}`);
      if (!Number.isFinite(r.regressionScore)) throw new GateError('INPUT_AVRO_DECODE', 'regressionScore is not finite');
      f.id = r.frameId;
      f.cameraId = r.cameraId;
      f.trackId = r.trackId;
      f.captureTs = r.captureTimestamp;
      f.enqueuedAt = r.enqueuedAt;
      f.aligned = { size: 112, data: new Uint8Array(r.alignedRgb), landmarkSource: r.landmarkSource === 'detector' ? 'detector' : 'message', landmarks: [], eyeDistance: NaN };
      f.regression = { score: r.regressionScore, modelId: r.regressionModel.id, modelVersion: r.regressionModel.version };
      f.metadata = { gateAccept: String(r.thresholds.accept), gateReject: String(r.thresholds.reject), origin: `${r.source.topic}/${r.source.partition}/${r.source.offset}`, enforced: String(r.enforced) };
    }, 'INPUT_AVRO_DECODE');
  }

  async close(): Promise<void> {}
}

export interface DiffusionStageOptions {
  /** Per-camera thresholds on full DifFIQA's scale (cameras.*.escalation), read once a batch. */
  policy: PolicySwitch;
  /** Requests older than this are not scored: they get the regression decision, flagged. 0 = never. */
  maxAgeMs: number;
  now?: () => number;
}

/**
 * Full DifFIQA for the frames the gate could not decide, against their camera's escalation thresholds. Frames that waited too long (the stage
 * fell behind) are not left waiting: they keep their inline score, flagged SKIPPED_OVERLOAD.
 */
export class DiffusionStage implements Stage {
  readonly name = 'diffiqa';
  readonly counts = { scored: 0, skippedOverload: 0 };
  readonly #scorer: DiffusionScorer;
  readonly #o: DiffusionStageOptions;
  readonly #model: { id: string; version: string; provider: string };

  constructor(scorer: DiffusionScorer, model: { id: string; version: string; provider: string }, o: DiffusionStageOptions) {
    this.#scorer = scorer;
    this.#model = model;
    this.#o = o;
  }

  async process(frames: Frame[]): Promise<Frame[]> {
    const now = (this.#o.now ?? Date.now)();
    const policy = this.#o.policy.current;
    const fresh: Frame[] = [];
    for (const f of frames) {
      // The mode is the one the gate decided under (carried by the request), so a frame keeps one mode across both stages.
      f.rule = { ...policy.for(f.cameraId), mode: f.metadata?.enforced === 'false' ? 'shadow' : 'enforce' };
      if (this.#o.maxAgeMs > 0 && f.enqueuedAt !== undefined && now - f.enqueuedAt > this.#o.maxAgeMs) {
        f.escalation = 'SKIPPED_OVERLOAD';
        f.decision = decide(f.regression!.score, { accept: Number(f.metadata!.gateAccept), reject: Number(f.metadata!.gateReject) });
        this.counts.skippedOverload++;
      } else fresh.push(f);
    }
    if (fresh.length === 0) return frames;
    const results = await this.#scorer.scoreBatch(fresh.map((f) => ({ face: f.aligned!, seed: f.id })));
    fresh.forEach((f, i) => {
      const r = results[i];
      f.full = { score: r.score, std: r.std, repeats: r.repeats, unetCalls: r.unetCalls, modelId: this.#model.id, modelVersion: this.#model.version, executionProvider: this.#model.provider };
      f.escalation = 'ESCALATED';
      f.decision = decide(r.score, f.rule!.escalation);
      this.counts.scored++;
    });
    return frames;
  }

  async close(): Promise<void> {}
}

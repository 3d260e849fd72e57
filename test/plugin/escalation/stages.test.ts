import { describe, expect, it } from 'vitest';
import { DiffusionStage } from '../../../src/plugin/escalation/stages.js';
import { finalEvent } from '../../../src/plugin/escalation/outputs.js';
import type { Frame } from '../../../src/plugin/core/frame.js';
import type { DiffusionScorer } from '../../../src/plugin/diffusion/scorer.js';
import { CameraPolicy, parseCameras, PolicySwitch } from '../../../src/plugin/config/cameras.js';

const rule = { mode: 'enforce' as const, accept: 0.6, reject: 0.4, escalate: true, escalation: { accept: 0.8, reject: 0.5 } };
const policy = (cameras?: unknown) => new PolicySwitch(cameras ? parseCameras(cameras, rule) : new CameraPolicy(rule));

function frame(id: string, enqueuedAt: number, regression: number, cameraId = 'cam-1', enforced = 'true'): Frame {
  return {
    id, cameraId, timings: {}, receivedAt: 0, enqueuedAt,
    aligned: { size: 112, data: new Uint8Array(112 * 112 * 3), landmarkSource: 'message', landmarks: [], eyeDistance: NaN },
    regression: { score: regression, modelId: 'reg', modelVersion: '1' },
    metadata: { gateAccept: '0.6', gateReject: '0.4', origin: 'crops/2/17', enforced },
  };
}

describe('DiffusionStage', () => {
  const scored: string[] = [];
  const scorer = { scoreBatch: async (xs: { seed: string }[]) => xs.map((x) => { scored.push(x.seed); return { score: 0.81, std: 0.02, repeats: 10, perRepeat: [], unetCalls: 120, ms: 5 }; }) } as unknown as DiffusionScorer;

  it('process should score fresh frames and decide with the stage thresholds', async () => {
    const stage = new DiffusionStage(scorer, { id: 'unet', version: '2', provider: 'cpu' }, { policy: policy(), maxAgeMs: 1000, now: () => 10_000 });
    const [f] = await stage.process([frame('a', 9_500, 0.5)]);
    expect(f.escalation).toBe('ESCALATED');
    expect(f.full).toMatchObject({ score: 0.81, std: 0.02, modelId: 'unet' });
    expect(f.decision).toBe('ACCEPT');
    const e = finalEvent(f);
    expect(e).toMatchObject({ final: true, score: 0.81, scoreStd: 0.02, regressionScore: 0.5, escalation: 'ESCALATED', enforced: true, model: { id: 'unet', role: 'diffiqa' }, source: { topic: 'crops', partition: 2, offset: '17' } });
  });

  it('process should not score frames older than maxAgeMs but decide them from the inline score, flagged and counted', async () => {
    scored.length = 0;
    const stage = new DiffusionStage(scorer, { id: 'unet', version: '2', provider: 'cpu' }, { policy: policy(), maxAgeMs: 1000, now: () => 10_000 });
    const frames = await stage.process([frame('old', 8_000, 0.55), frame('new', 9_900, 0.45)]);
    expect(scored).toEqual(['new']);
    expect(frames[0].escalation).toBe('SKIPPED_OVERLOAD');
    expect(frames[0].decision).toBe('BORDERLINE');
    expect(stage.counts).toEqual({ scored: 1, skippedOverload: 1 });
    const e = finalEvent(frames[0]);
    expect(e).toMatchObject({ final: true, score: 0.55, escalation: 'SKIPPED_OVERLOAD', thresholds: { accept: 0.6, reject: 0.4 }, model: { id: 'reg', role: 'regressor' } });
  });

  it('process should never skip when maxAgeMs is 0', async () => {
    const stage = new DiffusionStage(scorer, { id: 'unet', version: '2', provider: 'cpu' }, { policy: policy(), maxAgeMs: 0, now: () => 1e12 });
    const [f] = await stage.process([frame('ancient', 0, 0.5)]);
    expect(f.escalation).toBe('ESCALATED');
  });

  it('process should decide by the camera\'s escalation thresholds and keep the mode the gate decided under', async () => {
    const stage = new DiffusionStage(scorer, { id: 'unet', version: '2', provider: 'cpu' }, { policy: policy({ 'strict-*': { escalation: { accept: 0.9, reject: 0.9 } }, 'strict-2': { mode: 'enforce' } }), maxAgeMs: 0 });
    const frames = await stage.process([frame('a', 0, 0.5, 'strict-1'), frame('b', 0, 0.5, 'cam-1', 'false'), frame('c', 0, 0.5, 'strict-2', 'false')]);
    expect(frames.map((f) => f.decision)).toEqual(['REJECT', 'ACCEPT', 'ACCEPT']);
    expect(frames.map((f) => finalEvent(f)).map((e) => [e.thresholds.accept, e.enforced])).toEqual([[0.9, true], [0.8, false], [0.8, false]]);
  });
});

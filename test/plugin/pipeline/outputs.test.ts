import { describe, expect, it } from 'vitest';
import { buildOutputs } from '../../../src/plugin/pipeline/outputs.js';
import { createCodec, embeddedRegistry } from '../../../src/plugin/pipeline/codecs.js';
import { escalationRequestType, faceQualityType, type EscalationRequest, type FaceQuality } from '../../../src/schemas/index.js';
import type { Frame } from '../../../src/plugin/core/frame.js';
import type { CameraRule } from '../../../src/plugin/config/cameras.js';

const topics = { input: 'in', output: 'out', escalation: 'esc', dlq: 'dlq' };
const rule = (mode: CameraRule['mode'], escalate = true): CameraRule => ({ mode, accept: 0.8, reject: 0.6, escalate, escalation: { accept: 0.9, reject: 0.9 } });

function frame(cameraId: string, decision: Frame['decision'], r?: CameraRule): Frame {
  return {
    id: cameraId, cameraId, timings: {}, receivedAt: 0, decision, rule: r,
    regression: { score: 0.7, modelId: 'm', modelVersion: '1' },
    aligned: { size: 112, data: new Uint8Array(112 * 112 * 3), landmarkSource: 'message', landmarks: [], eyeDistance: 30 },
  };
}

describe('outputs', () => {
  it('buildOutputs should carry the camera rule: shadow frames say enforced false, thresholds and escalate are the camera\'s', async () => {
    const codec = createCodec(await embeddedRegistry(), topics);
    const frames = [frame('s', 'ACCEPT', rule('shadow')), frame('e', 'REJECT', rule('enforce')), frame('sb', 'BORDERLINE', rule('shadow')), frame('nb', 'BORDERLINE', rule('shadow', false)), frame('none', 'ACCEPT')];
    const out = await buildOutputs(frames, codec, { topics, thresholds: { accept: 0.5, reject: 0.4 }, escalate: true, provisional: false });
    expect(out.map((r) => r.topic)).toEqual(['out', 'out', 'esc', 'out', 'out']);
    const events = await Promise.all(out.filter((r) => r.topic === 'out').map((r) => codec.decode<FaceQuality>(r.value as Buffer, faceQualityType)));
    expect(events.map((e) => [e.cameraId, e.enforced, e.thresholds.accept])).toEqual([['s', false, 0.8], ['e', true, 0.8], ['nb', false, 0.8], ['none', true, 0.5]]);
    const req = await codec.decode<EscalationRequest>(out[2].value as Buffer, escalationRequestType);
    expect([req.enforced, req.thresholds]).toEqual([false, { accept: 0.8, reject: 0.6 }]);
  });
});

import { describe, expect, it } from 'vitest';
import { decide, DecideStage } from '../../../../src/plugin/pipeline/stages/decide.js';
import type { Frame } from '../../../../src/plugin/core/frame.js';
import { parseCameras, PolicySwitch } from '../../../../src/plugin/config/cameras.js';

describe('decide', () => {
  const t = { accept: 0.6, reject: 0.4 };
  it('decide should accept at and above accept, reject below reject, and hold the band in between', () => {
    expect(decide(0.6, t)).toBe('ACCEPT');
    expect(decide(0.95, t)).toBe('ACCEPT');
    expect(decide(0.5999, t)).toBe('BORDERLINE');
    expect(decide(0.4, t)).toBe('BORDERLINE');
    expect(decide(0.3999, t)).toBe('REJECT');
  });

  it('decide should leave no borderline band when accept equals reject', () => {
    expect(decide(0.5, { accept: 0.5, reject: 0.5 })).toBe('ACCEPT');
    expect(decide(0.4999, { accept: 0.5, reject: 0.5 })).toBe('REJECT');
  });

  it('process should decide only frames that have a score', async () => {
    const mk = (score?: number): Frame => ({ id: String(score), cameraId: 'c', timings: {}, receivedAt: 0, ...(score === undefined ? {} : { regression: { score, modelId: 'm', modelVersion: '1' } }) });
    const frames = [mk(0.9), mk(0.1), mk(0.5), mk()];
    await new DecideStage(t).process(frames);
    expect(frames.map((f) => f.decision)).toEqual(['ACCEPT', 'REJECT', 'BORDERLINE', undefined]);
  });

  it('process should decide each frame by its camera\'s rule, read once a batch', async () => {
    const base = { mode: 'enforce' as const, ...t, escalate: true, escalation: t };
    const policy = new PolicySwitch(parseCameras({ 'dark-*': { accept: 0.3, reject: 0.2 }, 'new-*': { mode: 'shadow' } }, base));
    const mk = (cameraId: string, score: number): Frame => ({ id: cameraId, cameraId, timings: {}, receivedAt: 0, regression: { score, modelId: 'm', modelVersion: '1' } });
    const frames = [mk('dark-1', 0.35), mk('lit-1', 0.35), mk('new-1', 0.35)];
    const stage = new DecideStage(policy);
    const swapped = stage.process(frames);
    policy.swap(parseCameras({}, base)); // lands after the batch read its policy
    await swapped;
    expect(frames.map((f) => [f.decision, f.rule?.mode])).toEqual([['ACCEPT', 'enforce'], ['REJECT', 'enforce'], ['REJECT', 'shadow']]);
    await stage.process(frames);
    expect(frames.map((f) => f.decision)).toEqual(['REJECT', 'REJECT', 'REJECT']);
  });
});

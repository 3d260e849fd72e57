import { describe, expect, it } from 'vitest';
import { CanaryStage, splitPoint } from '../../../../src/plugin/pipeline/stages/canary.js';
import type { Frame } from '../../../../src/plugin/core/frame.js';
import type { RegressScorer } from '../../../../src/plugin/scorers/scorers.js';

const rule = { mode: 'enforce' as const, accept: 0.6, reject: 0.4, escalate: true, escalation: { accept: 1, reject: 1 } };
function frame(id: string, cameraId: string, score: number): Frame {
  return {
    id, cameraId, timings: {}, receivedAt: 0, rule, decision: score >= 0.6 ? 'ACCEPT' : score < 0.4 ? 'REJECT' : 'BORDERLINE',
    regression: { score, modelId: 'r', modelVersion: '1' },
    aligned: { size: 112, data: new Uint8Array(3), landmarkSource: 'message', landmarks: [], eyeDistance: 30 },
  };
}

describe('CanaryStage', () => {
  it('splitPoint should spread sequential frame ids evenly', () => {
    const n = 20_000;
    const inSplit = Array.from({ length: n }, (_, i) => splitPoint(`run-${i}`)).filter((p) => p < 0.2).length;
    expect(Math.abs(inSplit / n - 0.2)).toBeLessThan(0.01);
    expect(splitPoint('run-7')).toBe(splitPoint('run-7'));
  });

  it('process should score only the split, leave a failed candidate score out without failing the frame, and compare both', async () => {
    let calls = 0;
    const scorer = { score: async () => { if (++calls === 2) throw new Error('candidate down'); return { score: 0.7, modelId: 'cand', modelVersion: '2' }; } } as unknown as RegressScorer;
    const stage = new CanaryStage(scorer, { fraction: 0, cameras: ['lab-*', 'door'] }, 10);
    const frames = [frame('a', 'lab-1', 0.5), frame('b', 'lab-2', 0.9), frame('c', 'door', 0.65), frame('d', 'hall', 0.1)];
    await stage.process(frames);
    expect(frames.map((f) => f.canary?.decision ?? null)).toEqual(['ACCEPT', null, 'ACCEPT', null]);
    expect(frames.every((f) => !f.error)).toBe(true);
    expect(stage.counts).toEqual({ scored: 2, failed: 1 });
    const s = stage.comparison.summary();
    expect(s).toMatchObject({ count: 2, agreement: 0.5, candidate: { median: 0.7, acceptRate: 1 }, regressor: { acceptRate: 0.5 } });
    expect(s.medianShift).toBeCloseTo(0.7 - 0.575, 9);
  });

  it('setSplit should apply from the next batch: fraction 0 and no cameras roll the canary back', async () => {
    const scorer = { score: async () => ({ score: 0.7, modelId: 'cand', modelVersion: '2' }) } as unknown as RegressScorer;
    const stage = new CanaryStage(scorer, { fraction: 1, cameras: [] }, 10);
    const first = [frame('a', 'x', 0.5)];
    await stage.process(first);
    stage.setSplit({ fraction: 0, cameras: [] });
    const second = [frame('b', 'x', 0.5)];
    await stage.process(second);
    expect([first[0].canary?.score, second[0].canary]).toEqual([0.7, undefined]);
  });
});

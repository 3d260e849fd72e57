import { describe, expect, it } from 'vitest';
import { GateError } from '../../../src/plugin/core/errors.js';
import type { Frame } from '../../../src/plugin/core/frame.js';
import type { GateRuns } from '../../../src/tools/bench/e2e.js';
import { FixedScoreStage, transportFrom } from '../../../src/tools/bench/transport.js';

const frame = (id: string, error?: GateError): Frame => ({ id, error } as unknown as Frame);

describe('FixedScoreStage', () => {
  it('process should score every decoded frame the same and leave failed frames to the DLQ', async () => {
    const bad = new GateError('INPUT_AVRO_DECODE', 'garbage');
    const out = await new FixedScoreStage().process([frame('a'), frame('b', bad)]);
    expect(out.map((f) => f.id)).toEqual(['a', 'b']);
    expect(out[0].regression).toEqual({ score: 1, modelId: 'transport-only', modelVersion: '0' });
    expect(out[1].regression).toBeUndefined();
    expect(out[1].error).toBe(bad);
  });
});

describe('transportFrom', () => {
  it('transportFrom should take the medians of the saturation runs', () => {
    const run = (cpu: number, fps: number, main: number) => ({ frames: 100, cpuMsPerFrame: cpu, framesPerSecond: fps, meanBatch: 0, pausedMs: 0, threadsMsPerFrame: { main, inference: 0, libvips: 0, other: cpu - main } });
    const t = transportFrom({ runs: [run(0.9, 900, 0.5), run(0.7, 1000, 0.4), run(0.8, 950, 0.6)] } as unknown as GateRuns);
    expect(t.cpuMsPerFrame).toBeCloseTo(0.8, 10);
    expect(t.framesPerSecond).toBe(950);
    expect(t.runsCpuMsPerFrame).toEqual([0.9, 0.7, 0.8]);
    expect(t.threadsMsPerFrame?.main).toBeCloseTo(0.5, 10);
  });
});

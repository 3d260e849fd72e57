import { describe, expect, it } from 'vitest';
import { renderMarkdown, type BenchReport } from '../../../src/tools/bench/report.js';
import type { OverheadResult } from '../../../src/tools/bench/overhead.js';

function report(extra: Partial<BenchReport>): BenchReport {
  return {
    name: 'quick-x', mode: 'quick', command: 'diffiqa-gate bench --quick', startedAt: '2026-01-01T00:00:00.000Z', durationS: 60,
    machine: { cpu: 'test cpu', cores: 2, memGiB: 8, loadAvgStart: [1, 1, 1], loadAvgEnd: [1, 1, 1], node: 'v20', onnxruntime: '1.30.0', platform: 'linux' },
    settings: { workers: 1, intraOpThreads: 2, maxBatch: 16, maxDelayMs: 5, repeats: 3, images: 16 },
    notes: [], errors: {}, ...extra,
  };
}

function overhead(ratio: number, client = 'kafkajs', cpuMsPerFrame = 5): OverheadResult {
  return {
    modelId: 'm', client, label: 'm', provider: 'cpu',
    gate: { cpuMsPerFrame, runsCpuMsPerFrame: [5], threadsMsPerFrame: { main: 1, inference: 0.75, libvips: 2, other: 1.25 }, framesPerSecond: 100, runsFramesPerSecond: [100], meanBatch: 12, idleCpuMsPerSecond: 30, pausedMs: 0 },
    standalone: { decodeAlignCpuMs: 3, decodeAlignConcurrentCpuMs: 3.25, decodeInFlight: 16, batch: 12, bareInferenceCpuMs: 0.5, bareLanesInferenceCpuMs: 0.55, lanes: 2, poolInferenceCpuMs: 0.6, poolBatchWallMs: 10 },
    ratio, ratioOneCore: ratio * 1.25, ratioToPool: ratio, dlq: {}, duplicates: 0, cleanStop: true,
  };
}

describe('renderMarkdown', () => {
  it('renderMarkdown should judge the overhead ratio against the 1.05 goal', () => {
    expect(renderMarkdown(report({ overhead: [overhead(1.04)] }))).toContain('m (kafkajs): ratio 1.040 — goal ≤ 1.05 met.');
    expect(renderMarkdown(report({ overhead: [overhead(1.3)] }))).toContain('m (kafkajs): ratio 1.300 — goal ≤ 1.05 NOT met.');
  });

  it('renderMarkdown should set the inference threads\' CPU against the standalone pool and bare figures', () => {
    const md = renderMarkdown(report({ overhead: [overhead(1.1)] }));
    expect(md).toContain('main 1.00 (event loop');
    expect(md).toContain('inference 0.75 (worker + ORT threads; standalone pool 0.60, bare 0.55 on 2 lane(s), 0.50 on one), libvips 2.00, other 1.25');
    expect(md).toContain('decode+align standalone 3.25 with 16 in flight, 3.00 one at a time.');
    const off = overhead(1.1);
    delete off.gate.threadsMsPerFrame;
    expect(renderMarkdown(report({ overhead: [off] }))).not.toContain('by thread');
  });

  it('renderMarkdown should show the goal\'s standalone figures on the gate\'s cores beside the one-core ones, with both ratios', () => {
    const md = renderMarkdown(report({ overhead: [overhead(1.1)] }));
    expect(md).toContain('| m | kafkajs | 100.0 | 5.00 | 3.25 (3.00) | 0.55 (0.50), batch 12 | 1.100 | 1.375 | 1.100 | 30.0 |');
    const transport = [{ client: 'kafkajs', cpuMsPerFrame: 0.2, runsCpuMsPerFrame: [0.2], framesPerSecond: 3000 }, { client: 'platformatic', cpuMsPerFrame: 1.2, runsCpuMsPerFrame: [1.2], framesPerSecond: 2000 }];
    // 5 ÷ (3.25 + 0.55 + 0.2); each client's gate against its own transport only
    const both = renderMarkdown(report({ overhead: [overhead(1.1), overhead(1.1, 'platformatic', 6)], transport }));
    expect(both).toContain('m (kafkajs): gate ÷ (decode+align + bare inference on the gate\'s cores + transport alone) = 1.250.');
    // 6 ÷ (3.25 + 0.55 + 1.2)
    expect(both).toContain('m (platformatic): gate ÷ (decode+align + bare inference on the gate\'s cores + transport alone) = 1.200.');
    expect(both).toContain('Transport alone, platformatic');
  });

  it('renderMarkdown should set each client\'s gate CPU per frame against the first client\'s for the same model', () => {
    const md = renderMarkdown(report({ overhead: [overhead(1.1), overhead(1.32, 'platformatic', 6)] }));
    expect(md).toContain('m: platformatic ÷ kafkajs gate CPU per frame = 1.200 (6.00 vs 5.00 ms), frames/s 100.0 vs 100.0.');
    expect(md).toContain('m (platformatic): ratio 1.320 — goal ≤ 1.05 NOT met.');
  });

  it('renderMarkdown should compare p99 at 70 % load with maxDelay + 2 batches', () => {
    const row = (load: number, p99: number) => ({ load, ratePerSecond: 10, frames: 100, p50: 1, p95: 2, p99, arrivedP99: p99 + 1, meanBatch: 2, breakdown: { beforeGate: [1, 2] as [number, number], inGate: [3, 4] as [number, number], stages: { regress: [5, 6] as [number, number] } } });
    const latency = { modelId: 'm', client: 'kafkajs', saturationFramesPerSecond: 100, maxDelayMs: 5, batchInferenceMs: 10, boundMs: 25, rows: [row(0.3, 10), row(0.7, 50)] };
    const md = renderMarkdown(report({ latency: [latency] }));
    expect(md).toContain('= 25.0 ms; measured p99 50 ms: 2.0× the bound.');
    expect(renderMarkdown(report({ latency: [{ ...latency, rows: [row(0.7, 20)] }] }))).toContain('measured p99 20 ms: within the bound.');
    expect(md).not.toContain('sustained while streamed');
    const streamed = renderMarkdown(report({ latency: [latency, { ...latency, client: 'platformatic', streamingFramesPerSecond: 80 }] }));
    expect(streamed).toContain('## 5. Latency through the broker (m, kafkajs; saturation 100.0 frames/s from a backlog)');
    expect(streamed).toContain('## 5. Latency through the broker (m, platformatic; saturation 100.0 frames/s from a backlog, 80.0 frames/s sustained while streamed');
    expect(streamed).toContain('Loads are fractions of the streaming saturation');
  });

  it('renderMarkdown should judge the peer speed-up against 2× and give the models\' arithmetic rate per thread where the MACs are known', () => {
    const row = { batch: 1, oursImagesPerSecond: 30, peerImagesPerSecond: 10, speedup: 3, oursModelMsPerImage: 100, peerModelMsPerImage: 200, modelSpeedup: 2 };
    const peer = { modelId: 'big', label: 'big', images: 32, threads: 2, torch: '2.5', peerPreprocessMsPerImage: 1, rows: [row], scoreMaxAbsDiff: 1e-6 };
    const plain = renderMarkdown(report({ peer: [peer] }));
    expect(plain).toContain('big: slowest end-to-end speed-up 3.00× — goal ≥ 2× met at every batch size.');
    expect(plain).not.toContain('Arithmetic rate');
    // 12 GMAC = 24 G operations an image; 100 ms an image on 2 threads: 120 per thread; 200 ms: 60.
    expect(renderMarkdown(report({ peer: [{ ...peer, gmacPerImage: 12 }] }))).toContain('big batch 1: ours 120, peer 60.');
  });

  it('renderMarkdown should list failed sections and leave out sections that did not run', () => {
    const md = renderMarkdown(report({ errors: { 'peer m': 'INTERNAL: python missing\nstack' } }));
    expect(md).toContain('- peer m: INTERNAL: python missing');
    expect(md).not.toContain('stack');
    expect(md).not.toContain('## 3.');
  });
});

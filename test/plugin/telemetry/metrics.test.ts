import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { Pipeline } from '../../../src/plugin/pipeline/pipeline.js';
import { PipelineMetrics } from '../../../src/plugin/telemetry/metrics.js';
import { PrometheusReader } from '../../../src/plugin/telemetry/prometheus.js';
import { runtimeMetrics } from '../../../src/plugin/telemetry/runtime-metrics.js';
import { decideStage, decodeStage, frameAt, inferStage } from './helpers.js';

let provider: MeterProvider | undefined;
afterEach(async () => { await provider?.shutdown(); provider = undefined; });

function setup(cameraSeries?: number) {
  const reader = new PrometheusReader();
  provider = new MeterProvider({ readers: [reader] });
  return { reader, metrics: new PipelineMetrics(provider.getMeter('t'), { cameraSeries }) };
}

describe('PipelineMetrics', () => {
  it('wrap should count each frame in once across stages and time every stage call', async () => {
    const { reader, metrics } = setup();
    const p = new Pipeline([decodeStage(), inferStage(), decideStage()], metrics.wrap);
    await p.run([frameAt(0), frameAt(1), frameAt(13)], new AbortController().signal);
    await p.run([frameAt(2)], new AbortController().signal);
    const text = await reader.render();
    expect(text).toContain('diffiqa_frames_in_total 4\n');
    expect(text).toContain('diffiqa_stage_duration_seconds_count{stage="decode"} 2\n');
    expect(text).toContain('diffiqa_stage_duration_seconds_count{stage="decide"} 2\n');
  });

  it('chunk should count full DifFIQA scores and skipped frames on the escalation side, without recounting inline scores', async () => {
    const { reader, metrics } = setup();
    const reg = { score: 0.5, modelId: 'reg', modelVersion: '1' };
    const escalated = { ...frameAt(0), cameraId: 'c', decision: 'ACCEPT' as const, regression: reg, escalation: 'ESCALATED' as const, full: { score: 0.8, modelId: 'unet', modelVersion: '1', repeats: 1, unetCalls: 6 } };
    const skipped = { ...frameAt(1), cameraId: 'c', decision: 'BORDERLINE' as const, regression: reg, escalation: 'SKIPPED_OVERLOAD' as const };
    metrics.chunk([escalated, skipped], []);
    const text = await reader.render();
    expect(text).toContain('diffiqa_escalation_skipped_overload_total 1\n');
    expect(text).toContain('diffiqa_score_count{camera_id="c",model="unet"} 1\n');
    expect(text).not.toContain('model="reg"');
  });

  it('chunk should count a negative regressor score in the lowest bucket instead of dropping it', async () => {
    const { reader, metrics } = setup();
    const f = { ...frameAt(0), cameraId: 'c', decision: 'REJECT' as const, regression: { score: -0.2, modelId: 'reg', modelVersion: '1' } };
    metrics.chunk([f], []);
    const text = await reader.render();
    expect(text).toContain('diffiqa_score_bucket{camera_id="c",model="reg",le="0"} 1\n');
    expect(text).toContain('diffiqa_score_count{camera_id="c",model="reg"} 1\n');
  });

  it('inferenceRun should record batch sizes and run time per model and execution provider', async () => {
    const { reader, metrics } = setup();
    metrics.inferenceRun('reg', 16, 20, 'cuda');
    metrics.inferenceRun('reg', 3, 5, 'cuda');
    const text = await reader.render();
    expect(text).toContain('diffiqa_inference_batch_size_sum{model="reg",provider="cuda"} 19\n');
    expect(text).toContain('diffiqa_inference_batch_size_bucket{model="reg",provider="cuda",le="4"} 1\n');
    expect(text).toContain('diffiqa_inference_duration_seconds_count{model="reg",provider="cuda"} 2\n');
  });

  it('chunk should give the busiest cameras their own camera_id and keep the scrape bounded with 10,000 cameras', async () => {
    const { reader, metrics } = setup(50);
    const reg = { score: 0.9, modelId: 'reg', modelVersion: '1' };
    const frame = (cameraId: string, i: number) => ({ ...frameAt(i), cameraId, decision: 'ACCEPT' as const, regression: reg });
    // 10,000 cameras of one frame each come first (and take every free place), then 10 busy cameras among more quiet ones.
    metrics.chunk(Array.from({ length: 10_000 }, (_, i) => frame(`cam-${i}`, i)), []);
    const busy = Array.from({ length: 10 }, (_, i) => `busy-${i}`);
    for (let round = 0; round < 300; round++) {
      metrics.chunk([...busy.map((c, i) => frame(c, i)), ...Array.from({ length: 10 }, (_, i) => frame(`cam-${10_000 + round * 10 + i}`, i))], []);
    }
    const text = await reader.render();
    const cameras = new Set([...text.matchAll(/camera_id="([^"]+)"/g)].map((m) => m[1]));
    for (const b of busy) expect(cameras.has(b), b).toBe(true);
    expect(cameras.has('other')).toBe(true);
    expect(cameras.size).toBeLessThanOrEqual(2 * 50 + 1);
    // Nothing lost: every frame is in its camera's series or in "other".
    const counts = [...text.matchAll(/^diffiqa_score_count\{camera_id="[^"]+",model="reg"\} (\d+)$/gm)].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10_000 + 300 * 20);
    expect(text.length, 'scrape bytes').toBeLessThan(300_000);
  });

  it('chunk should record capture-to-final latency for final events only, by the path that decided', async () => {
    const { reader, metrics } = setup();
    const reg = { score: 0.5, modelId: 'reg', modelVersion: '1' };
    const full = { score: 0.95, modelId: 'unet', modelVersion: '1', repeats: 1, unetCalls: 1 };
    const at = (i: number, extra: object) => ({ ...frameAt(i), cameraId: 'c', regression: reg, captureTs: Date.now() - 2000, ...extra });
    metrics.chunk([
      at(0, { decision: 'ACCEPT' }),
      at(1, { decision: 'BORDERLINE', rule: { escalate: true } }),
      at(2, { decision: 'BORDERLINE', rule: { escalate: false } }),
      at(3, { decision: 'ACCEPT', escalation: 'ESCALATED', full }),
      at(4, { decision: 'BORDERLINE', escalation: 'SKIPPED_OVERLOAD' }),
    ] as never, []);
    const text = await reader.render();
    expect(text).toContain('diffiqa_final_latency_seconds_count{path="inline"} 2\n');
    expect(text).toContain('diffiqa_final_latency_seconds_count{path="full"} 1\n');
    expect(text).toContain('diffiqa_final_latency_seconds_count{path="skipped_overload"} 1\n');
    expect(text).toContain('diffiqa_final_latency_seconds_bucket{path="inline",le="1"} 0\n');
    expect(text).toContain('diffiqa_final_latency_seconds_bucket{path="inline",le="2.5"} 2\n');
  });
});

describe('runtimeMetrics', () => {
  it('runtimeMetrics should export memory, CPU, event-loop delay and GC pauses', async () => {
    const reader = new PrometheusReader();
    provider = new MeterProvider({ readers: [reader] });
    const stop = runtimeMetrics(provider.getMeter('t'));
    try {
      await new Promise((r) => setTimeout(r, 100));
      (globalThis as { gc?: () => void }).gc?.();
      const junk: number[][] = [];
      for (let i = 0; i < 2000; i++) junk.push(new Array(1000).fill(i));
      await new Promise((r) => setTimeout(r, 50));
      const text = await reader.render();
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
      expect(text).toMatch(/^nodejs_memory_bytes\{type="heap_used"\} \d+/m);
      expect(text).toMatch(/^process_cpu_seconds_total\{mode="user"\} [\d.]+/m);
      expect(text).toMatch(/^nodejs_eventloop_delay_seconds\{quantile="0.99"\} [\d.e-]+/m);
      expect(text).toMatch(/^nodejs_gc_duration_seconds_count\{kind="\w+"\} \d+/m);
    } finally {
      stop();
    }
  });
});

import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { Pipeline } from '../../../src/plugin/pipeline/pipeline.js';
import { PipelineMetrics } from '../../../src/plugin/telemetry/metrics.js';
import { PrometheusReader } from '../../../src/plugin/telemetry/prometheus.js';
import { decideStage, decodeStage, frameAt, inferStage } from './helpers.js';

let provider: MeterProvider | undefined;
afterEach(async () => { await provider?.shutdown(); provider = undefined; });

function setup() {
  const reader = new PrometheusReader();
  provider = new MeterProvider({ readers: [reader] });
  return { reader, metrics: new PipelineMetrics(provider.getMeter('t')) };
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
});

import type { Frame } from '../../plugin/core/frame.js';
import type { Stage } from '../../plugin/core/stage.js';
import type { GateRuns } from './e2e.js';
import { medianSplit, type ThreadSplit } from './split.js';
import { median } from './stats.js';

/**
 * The scoring of the transport-only gate: every frame that decoded gets the same score, with no
 * image work and no inference. What the gate then costs per frame is its Kafka client, Avro
 * (decode of FaceCrop, encode of FaceQuality), decide and its own bookkeeping: the part of the
 * end-to-end CPU that the overhead ratio's denominator (decode + align + inference) has no term for.
 */
export class FixedScoreStage implements Stage {
  readonly name = 'regress';

  async process(frames: Frame[]): Promise<Frame[]> {
    for (const f of frames) if (!f.error) f.regression = { score: 1, modelId: 'transport-only', modelVersion: '0' };
    return frames;
  }

  async close(): Promise<void> {}
}

export interface TransportResult {
  /** The gate's Kafka client: transport alone is where the clients differ most. */
  client: string;
  /** Median over saturation runs of the transport-only gate's CPU ms per frame (all its threads). */
  cpuMsPerFrame: number;
  runsCpuMsPerFrame: number[];
  threadsMsPerFrame?: ThreadSplit;
  framesPerSecond: number;
}

export function transportFrom(gate: GateRuns): TransportResult {
  const result: TransportResult = {
    client: gate.client, cpuMsPerFrame: median(gate.runs.map((r) => r.cpuMsPerFrame)), runsCpuMsPerFrame: gate.runs.map((r) => r.cpuMsPerFrame),
    framesPerSecond: median(gate.runs.map((r) => r.framesPerSecond)),
  };
  const split = medianSplit(gate.runs.map((r) => r.threadsMsPerFrame));
  if (split) result.threadsMsPerFrame = split;
  return result;
}

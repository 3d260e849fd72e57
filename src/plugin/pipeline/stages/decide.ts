import type { Frame } from '../../core/frame.js';
import type { Stage } from '../../core/stage.js';

export interface Thresholds { accept: number; reject: number }

/** score ≥ accept → ACCEPT, score < reject → REJECT, in between → BORDERLINE. */
export function decide(score: number, t: Thresholds): 'ACCEPT' | 'REJECT' | 'BORDERLINE' {
  if (score >= t.accept) return 'ACCEPT';
  if (score < t.reject) return 'REJECT';
  return 'BORDERLINE';
}

export class DecideStage implements Stage {
  readonly name = 'decide';
  readonly thresholds: Thresholds;

  constructor(thresholds: Thresholds) {
    this.thresholds = thresholds;
  }

  async process(frames: Frame[]): Promise<Frame[]> {
    for (const f of frames) if (f.regression) f.decision = decide(f.regression.score, this.thresholds);
    return frames;
  }

  async close(): Promise<void> {}
}

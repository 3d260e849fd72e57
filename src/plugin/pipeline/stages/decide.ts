import { CameraPolicy, PolicySwitch } from '../../config/cameras.js';
import type { Frame } from '../../core/frame.js';
import type { Stage } from '../../core/stage.js';

export interface Thresholds { accept: number; reject: number }

/** score ≥ accept → ACCEPT, score < reject → REJECT, in between → BORDERLINE. */
export function decide(score: number, t: Thresholds): 'ACCEPT' | 'REJECT' | 'BORDERLINE' {
  if (score >= t.accept) return 'ACCEPT';
  if (score < t.reject) return 'REJECT';
  return 'BORDERLINE';
}

/**
 * Decides each scored frame by its camera's rule. The policy is read once a batch, so a reload
 * (PolicySwitch.swap) lands between batches: no frame is decided by half of each.
 */
export class DecideStage implements Stage {
  readonly name = 'decide';
  readonly policy: PolicySwitch;

  /** Plain thresholds: one rule for every camera (enforce, escalate). */
  constructor(policy: PolicySwitch | Thresholds) {
    this.policy = policy instanceof PolicySwitch ? policy
      : new PolicySwitch(new CameraPolicy({ mode: 'enforce', ...policy, escalate: true, escalation: { ...policy } }));
  }

  async process(frames: Frame[]): Promise<Frame[]> {
    const policy = this.policy.current;
    for (const f of frames) {
      if (!f.regression) continue;
      f.rule = policy.for(f.cameraId);
      f.decision = decide(f.regression.score, f.rule);
    }
    return frames;
  }

  async close(): Promise<void> {}
}

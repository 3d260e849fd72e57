import { globRegex } from '../../config/cameras.js';
import { createChannel } from '../../core/diagnostic.js';
import type { Frame } from '../../core/frame.js';
import type { Stage } from '../../core/stage.js';
import { CanaryComparison, type CanaryPair } from '../../drift/canary.js';
import type { RegressScorer } from '../../scorers/scorers.js';
import { decide } from './decide.js';

/** Which frames the candidate also scores: a share of all frames (by frame id, stable across redeliveries) and listed cameras. */
export interface CanarySplit { fraction: number; cameras: readonly string[] }

export interface CanaryScoredEvent { source: CanaryStage; pairs: CanaryPair[] }

/** Published once a batch with the faces both models scored (telemetry may histogram both). */
export const canaryChannels = { scored: createChannel<CanaryScoredEvent>('canary:scored') };

/**
 * The frame id hashed onto [0, 1): the same frame is in or out of the split on every delivery.
 * FNV-1a, then murmur3's finaliser: ids that differ only in their last digits (cam-1-17, cam-1-18)
 * barely move FNV's high bits, which would skew the share.
 */
export function splitPoint(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

/**
 * Scores the canary split with a candidate model beside the regressor, after decide: the
 * candidate decides nothing. It is best effort: a candidate that fails or whose queue is full
 * leaves the frame without a canary score (counted), never fails the frame.
 */
export class CanaryStage implements Stage {
  readonly name = 'canary';
  readonly counts = { scored: 0, failed: 0 };
  readonly comparison: CanaryComparison;
  readonly #scorer: RegressScorer;
  #split!: { fraction: number; cameras: { id: string; regex: RegExp | null }[] };

  constructor(scorer: RegressScorer, split: CanarySplit, windowSize: number) {
    this.#scorer = scorer;
    this.setSplit(split);
    this.comparison = new CanaryComparison(windowSize);
  }

  /** A reload (SIGHUP): the next batch uses the new split; fraction 0 and no cameras roll the canary back. */
  setSplit(split: CanarySplit): void {
    this.#split = { fraction: split.fraction, cameras: split.cameras.map((id) => ({ id, regex: globRegex(id) })) };
  }

  async process(frames: Frame[]): Promise<Frame[]> {
    const { fraction, cameras } = this.#split;
    const selects = (f: Frame) => cameras.some((c) => (c.regex ? c.regex.test(f.cameraId) : c.id === f.cameraId)) || splitPoint(f.id) < fraction;
    const chosen = frames.filter((f) => !f.error && f.aligned && f.regression && f.rule && selects(f));
    const pairs: CanaryPair[] = [];
    await Promise.all(chosen.map(async (f) => {
      try {
        const r = await this.#scorer.score(f.aligned!);
        const decision = decide(r.score, f.rule!);
        f.canary = { ...r, decision };
        const pair = { cameraId: f.cameraId, regressor: f.regression!.score, candidate: r.score, regressorAccepted: f.decision === 'ACCEPT', candidateAccepted: decision === 'ACCEPT', agree: decision === f.decision };
        this.comparison.add(pair);
        pairs.push(pair);
        this.counts.scored++;
      } catch {
        this.counts.failed++;
      }
    }));
    if (pairs.length && canaryChannels.scored.hasSubscribers) canaryChannels.scored.publish({ source: this, pairs });
    return frames;
  }

  async close(): Promise<void> {}
}

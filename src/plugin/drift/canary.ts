import { median } from './monitor.js';

/** One face scored by both models, with the decisions each score gives under the frame's thresholds. */
export interface CanaryPair { cameraId: string; regressor: number; candidate: number; regressorAccepted: boolean; candidateAccepted: boolean; agree: boolean }

export interface CanarySummary {
  /** Pairs in the window (the last `windowSize`). */
  count: number;
  regressor: { median: number; acceptRate: number };
  candidate: { median: number; acceptRate: number };
  /** candidate − regressor. */
  medianShift: number;
  acceptRateShift: number;
  /** Share of faces both models decide alike (ACCEPT / REJECT / BORDERLINE). */
  agreement: number;
}

/**
 * The two score distributions of the canary split side by side, over a sliding window: what an
 * operator reads before promoting the candidate (models.regressor) or rolling it back (canary.model '').
 */
export class CanaryComparison {
  readonly #pairs: CanaryPair[] = [];
  readonly #size: number;
  total = 0;

  constructor(windowSize: number) { this.#size = windowSize; }

  add(p: CanaryPair): void {
    this.#pairs.push(p);
    if (this.#pairs.length > this.#size) this.#pairs.shift();
    this.total++;
  }

  summary(): CanarySummary {
    const n = this.#pairs.length;
    const side = (score: (p: CanaryPair) => number, accepted: (p: CanaryPair) => boolean) => ({
      median: median(this.#pairs.map(score)), acceptRate: n ? this.#pairs.filter(accepted).length / n : NaN,
    });
    const regressor = side((p) => p.regressor, (p) => p.regressorAccepted);
    const candidate = side((p) => p.candidate, (p) => p.candidateAccepted);
    return {
      count: n, regressor, candidate,
      medianShift: candidate.median - regressor.median, acceptRateShift: candidate.acceptRate - regressor.acceptRate,
      agreement: n ? this.#pairs.filter((p) => p.agree).length / n : NaN,
    };
  }
}

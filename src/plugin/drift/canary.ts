import { backWithinBounds, exceededBounds, median, type DriftEvent, type DriftOptions } from './monitor.js';

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

export interface CanaryEvent {
  /** diverged: the candidate's distribution left the bounds around the regressor's; converged: back well inside them. */
  type: 'diverged' | 'converged';
  /** Manifest ids of the production regressor and the candidate. */
  regressor: string;
  candidate: string;
  summary: CanarySummary;
  /** Which bounds are exceeded (diverged) — empty when converged. */
  reasons: DriftEvent['reasons'];
  at: number;
}

/**
 * The drift monitor's check for the canary: the candidate's score distribution against the
 * regressor's on the same faces (one comparison window), with the per-camera drift bounds
 * (drift.medianShift, drift.acceptRateShift) and the same hysteresis. A candidate that moves the
 * median or the accept rate further than a camera may drift would change decisions, which is
 * what an operator must know before promoting it. Judged only on a full window.
 */
export class CanaryMonitor {
  readonly #o: Pick<DriftOptions, 'windowSize' | 'medianShift' | 'acceptRateShift' | 'rearmFraction'>;
  readonly #models: { regressor: string; candidate: string };
  diverged = false;

  constructor(o: Pick<DriftOptions, 'windowSize' | 'medianShift' | 'acceptRateShift' | 'rearmFraction'>, models: { regressor: string; candidate: string }) {
    this.#o = o;
    this.#models = models;
  }

  /** Judges the comparison after new pairs; an event when the candidate starts or stops diverging. */
  check(summary: CanarySummary, at = Date.now()): CanaryEvent | undefined {
    if (summary.count < this.#o.windowSize) return undefined;
    const event = (type: CanaryEvent['type'], reasons: CanaryEvent['reasons']): CanaryEvent => ({ type, ...this.#models, summary, reasons, at });
    if (!this.diverged) {
      const reasons = exceededBounds(summary.medianShift, summary.acceptRateShift, this.#o);
      if (reasons.length === 0) return undefined;
      this.diverged = true;
      return event('diverged', reasons);
    }
    if (!backWithinBounds(summary.medianShift, summary.acceptRateShift, this.#o)) return undefined;
    this.diverged = false;
    return event('converged', []);
  }
}

/**
 * Per-camera drift of the quality score. Each camera is compared with itself, never with other
 * cameras: a dim corridor camera may be fine at a median of 0.4. The first `baselineSize`
 * scores form the camera's baseline; after that a sliding window of the last `windowSize` scores
 * is compared with it. One alert when the median or the accept rate leaves its bound; the camera
 * re-arms only once both are back inside `rearmFraction` of their bounds (hysteresis, so a
 * camera hovering at the bound does not flood the alerts topic).
 */
export interface DriftOptions {
  baselineSize: number;
  windowSize: number;
  /** Largest tolerated |median(recent) − median(baseline)|, in score units. */
  medianShift: number;
  /** Largest tolerated |acceptRate(recent) − acceptRate(baseline)|, a fraction. */
  acceptRateShift: number;
  /** Recovered when both shifts are within this fraction of their bounds. */
  rearmFraction: number;
  /** Cameras tracked at once; the least recently seen is forgotten beyond this. */
  maxCameras: number;
}

export interface WindowStats { median: number; acceptRate: number; count: number }

export interface DriftEvent {
  type: 'drift' | 'recovered';
  cameraId: string;
  baseline: WindowStats;
  recent: WindowStats;
  /** recent − baseline. */
  medianShift: number;
  acceptRateShift: number;
  /** Which bounds are exceeded (drift) — empty on recovery. */
  reasons: ('median' | 'acceptRate')[];
  at: number;
}

export function median(values: ArrayLike<number>, n = values.length): number {
  const s = Float64Array.from({ length: n }, (_, i) => values[i]).sort();
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

type Bounds = Pick<DriftOptions, 'medianShift' | 'acceptRateShift' | 'rearmFraction'>;

/** The bounds two distributions' shifts exceed (a camera against its baseline, a canary candidate against the regressor). */
export function exceededBounds(medianShift: number, acceptRateShift: number, o: Bounds): DriftEvent['reasons'] {
  const reasons: DriftEvent['reasons'] = [];
  if (Math.abs(medianShift) > o.medianShift) reasons.push('median');
  if (Math.abs(acceptRateShift) > o.acceptRateShift) reasons.push('acceptRate');
  return reasons;
}

/** Recovered only well inside the bounds (rearmFraction of them): hysteresis, so shifts hovering at a bound raise one alert, not a flood. */
export function backWithinBounds(medianShift: number, acceptRateShift: number, o: Bounds): boolean {
  return Math.abs(medianShift) <= o.medianShift * o.rearmFraction && Math.abs(acceptRateShift) <= o.acceptRateShift * o.rearmFraction;
}

class CameraWindow {
  readonly base: number[] = [];
  baseAccepts = 0;
  baseline?: WindowStats;
  readonly recent: Float64Array;
  readonly recentAccepted: Uint8Array;
  next = 0;
  filled = 0;
  recentAccepts = 0;
  drifting = false;

  constructor(size: number) {
    this.recent = new Float64Array(size);
    this.recentAccepted = new Uint8Array(size);
  }
}

export class DriftMonitor {
  readonly #o: DriftOptions;
  readonly #cameras = new Map<string, CameraWindow>();

  constructor(o: DriftOptions) {
    if (o.baselineSize < 1 || o.windowSize < 1) throw new RangeError('drift windows must hold at least one score');
    this.#o = o;
  }

  /** Feeds one published score; returns an event when the camera starts or stops drifting. */
  observe(cameraId: string, score: number, accepted: boolean, at = Date.now()): DriftEvent | undefined {
    if (!Number.isFinite(score)) return undefined;
    const w = this.#camera(cameraId);
    if (!w.baseline) {
      w.base.push(score);
      if (accepted) w.baseAccepts++;
      if (w.base.length === this.#o.baselineSize) {
        w.baseline = { median: median(w.base), acceptRate: w.baseAccepts / w.base.length, count: w.base.length };
        w.base.length = 0;
      }
      return undefined;
    }
    const size = w.recent.length;
    if (w.filled === size) w.recentAccepts -= w.recentAccepted[w.next];
    w.recent[w.next] = score;
    w.recentAccepted[w.next] = accepted ? 1 : 0;
    w.recentAccepts += accepted ? 1 : 0;
    w.next = (w.next + 1) % size;
    w.filled = Math.min(size, w.filled + 1);
    if (w.filled < size) return undefined;

    const recent: WindowStats = { median: median(w.recent), acceptRate: w.recentAccepts / size, count: size };
    const medianShift = recent.median - w.baseline.median;
    const acceptRateShift = recent.acceptRate - w.baseline.acceptRate;
    const event = (type: DriftEvent['type'], reasons: DriftEvent['reasons']): DriftEvent => ({ type, cameraId, baseline: w.baseline!, recent, medianShift, acceptRateShift, reasons, at });
    if (!w.drifting) {
      const reasons = exceededBounds(medianShift, acceptRateShift, this.#o);
      if (reasons.length === 0) return undefined;
      w.drifting = true;
      return event('drift', reasons);
    }
    if (backWithinBounds(medianShift, acceptRateShift, this.#o)) {
      w.drifting = false;
      return event('recovered', []);
    }
    return undefined;
  }

  /** Cameras drifting now. */
  drifting(): string[] {
    return [...this.#cameras].filter(([, w]) => w.drifting).map(([id]) => id);
  }

  get cameraCount(): number { return this.#cameras.size; }

  #camera(id: string): CameraWindow {
    let w = this.#cameras.get(id);
    if (w) {
      // Map order is insertion order: re-inserting makes it the most recently seen.
      this.#cameras.delete(id);
      this.#cameras.set(id, w);
      return w;
    }
    w = new CameraWindow(this.#o.windowSize);
    this.#cameras.set(id, w);
    if (this.#cameras.size > this.#o.maxCameras) this.#cameras.delete(this.#cameras.keys().next().value!);
    return w;
  }
}

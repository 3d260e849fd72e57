export const DEFAULT_CAMERA_SERIES = 100;
export const OTHER_CAMERA = 'other';

/**
 * Frame counts of the busiest cameras in bounded memory (Misra-Gries): at most `capacity`
 * counters; a new camera arriving at a full table lowers every counter by one instead of taking
 * a place. Any camera with more than 1/(capacity+1) of the traffic is always present, its count
 * short by at most that share, so 10,000 or a million camera ids cost the same memory.
 */
class HeavyHitters {
  readonly counts = new Map<string, number>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  add(id: string): void {
    const n = this.counts.get(id);
    if (n !== undefined) { this.counts.set(id, n + 1); return; }
    if (this.counts.size < this.#capacity) { this.counts.set(id, 1); return; }
    // Amortised O(1): every decrement here pays back one earlier increment.
    for (const [k, v] of this.counts) { if (v <= 1) this.counts.delete(k); else this.counts.set(k, v - 1); }
  }

  /** Halves every count, so what ranks cameras is recent traffic, not the whole history. */
  decay(): void {
    for (const [k, v] of this.counts) { const h = Math.floor(v / 2); if (h === 0) this.counts.delete(k); else this.counts.set(k, h); }
  }
}

export interface CameraLabelOptions {
  /** Frames between two rankings (default: the counter table's size). */
  window?: number;
}

/**
 * Bounds the camera_id label to the `max` busiest cameras; every other camera counts as "other".
 * While fewer than `max` cameras hold a series, a new camera gets one at once (a site with at most
 * `max` cameras is labelled from its first frame). Every `window` frames the cameras are ranked by
 * recent traffic: a top-`max` camera without a series, with at least a quarter of an equal share
 * (window / max / 4 frames), takes the place of the quietest holder once it has more than twice its
 * traffic (the margin keeps two similar cameras from trading places).
 * The quieter camera's series stays, frozen (series are cumulative, and the SDK cannot drop one);
 * its later frames count under "other". So that frozen series cannot pile up, at most 2 × `max`
 * cameras ever get a series; past that only those cameras trade places. A scrape therefore holds
 * at most 2 × `max` + 1 camera_id values per metric and label set, whatever the number of
 * cameras (2,100 cameras made a 4.1 MB scrape when every camera had its own).
 */
export class CameraLabels {
  readonly #max: number;
  readonly #window: number;
  readonly #traffic: HeavyHitters;
  /** Cameras whose frames carry their own camera_id now. */
  readonly #own = new Set<string>();
  /** Every camera that ever had a series (its series exists in the SDK, frozen or not). */
  readonly #series = new Set<string>();
  #frames = 0;

  constructor(max: number, o: CameraLabelOptions = {}) {
    this.#max = max;
    const capacity = Math.max(10 * max, 1000);
    this.#traffic = new HeavyHitters(capacity);
    this.#window = o.window ?? capacity;
  }

  label(cameraId: string): string {
    if (this.#max === 0 || cameraId === OTHER_CAMERA) return OTHER_CAMERA;
    this.#traffic.add(cameraId);
    if (++this.#frames % this.#window === 0) this.#rank();
    if (!this.#own.has(cameraId) && this.#own.size < this.#max && this.#canHold(cameraId)) this.#promote(cameraId);
    return this.#own.has(cameraId) ? cameraId : OTHER_CAMERA;
  }

  /** The cameras labelled by their own id now (tests, diagnostics). */
  get labelled(): ReadonlySet<string> {
    return this.#own;
  }

  #canHold(id: string): boolean {
    return this.#series.has(id) || this.#series.size < 2 * this.#max;
  }

  #promote(id: string): void {
    this.#own.add(id);
    this.#series.add(id);
  }

  #rank(): void {
    const count = (id: string) => this.#traffic.counts.get(id) ?? 0;
    const top = [...this.#traffic.counts.keys()].sort((a, b) => count(b) - count(a)).slice(0, this.#max);
    for (const id of top) {
      // A quarter of an equal share of the window at least: a camera seen once or twice must not spend a series.
      if (this.#own.has(id) || !this.#canHold(id) || count(id) < this.#window / (4 * this.#max)) continue;
      if (this.#own.size < this.#max) { this.#promote(id); continue; }
      let quietest: string | undefined;
      for (const o of this.#own) if (quietest === undefined || count(o) < count(quietest)) quietest = o;
      if (quietest === undefined || count(id) <= 2 * count(quietest)) continue;
      this.#own.delete(quietest);
      this.#promote(id);
    }
    this.#traffic.decay();
  }
}

import { GateError } from '../core/errors.js';

/** What backpressure needs of the source: stop and restart fetching. */
export interface Pausable { pauseAll(): void; resumeAll(): void }
export interface Saturable { readonly saturated: boolean; onDrain(listener: () => void): () => void }

/**
 * When the inference queue is full, the source is paused (Kafka keeps the data, memory stays
 * bounded) and callers wait; when a batch finishes and room is back, fetching resumes.
 */
export class Backpressure {
  readonly #queue: Saturable;
  #source?: Pausable;
  #waiters: (() => void)[] = [];
  #pausedAt?: number;
  pausedMs = 0;
  pauses = 0;

  constructor(queue: Saturable) {
    this.#queue = queue;
    queue.onDrain(() => this.#drained());
  }

  attach(source: Pausable): void { this.#source = source; }

  get paused(): boolean { return this.#pausedAt !== undefined; }

  async waitForRoom(signal?: AbortSignal): Promise<void> {
    while (this.#queue.saturated) {
      if (signal?.aborted) throw new GateError('INFER_CLOSED', 'stopped while waiting for inference capacity');
      if (this.#pausedAt === undefined) {
        this.#pausedAt = performance.now();
        this.pauses++;
        this.#source?.pauseAll();
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        // Stopping must not wait for a drain that may never come.
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  #drained(): void {
    if (this.#queue.saturated) return;
    if (this.#pausedAt !== undefined) {
      this.pausedMs += performance.now() - this.#pausedAt;
      this.#pausedAt = undefined;
      this.#source?.resumeAll();
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * A counting semaphore: at most `size` calls of run() execute at once, the rest wait in arrival
 * order. Used where each call holds a large buffer (a detector input is 4.9 MB), so that memory
 * follows the slots, not the number of frames in flight.
 */
export class Slots {
  readonly size: number;
  #busy = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`slots must be a positive integer, got ${size}`);
    this.size = size;
  }

  get busy(): number { return this.#busy; }
  get waiting(): number { return this.#waiting.length; }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#busy >= this.size) await new Promise<void>((r) => this.#waiting.push(r));
    else this.#busy++;
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter (busy stays), so no newcomer can overtake it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#busy--;
    }
  }
}

/** A one-line progress bar on stderr; silent when stderr is not a terminal unless forced. */
export class Progress {
  readonly #total: number;
  readonly #label: string;
  readonly #enabled: boolean;
  readonly #t0 = performance.now();
  #done = 0;
  #last = 0;

  constructor(total: number, label: string, enabled = process.stderr.isTTY === true) {
    this.#total = total;
    this.#label = label;
    this.#enabled = enabled && total > 1;
  }

  tick(n = 1): void {
    this.#done += n;
    const now = performance.now();
    if (!this.#enabled || (now - this.#last < 100 && this.#done < this.#total)) return;
    this.#last = now;
    const width = 30;
    const filled = Math.round((this.#done / this.#total) * width);
    const rate = this.#done / ((now - this.#t0) / 1000);
    process.stderr.write(`\r${this.#label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${this.#done}/${this.#total} ${rate.toFixed(1)}/s`);
  }

  end(): void {
    if (this.#enabled) process.stderr.write('\n');
  }
}

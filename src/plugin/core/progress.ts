/** How often a long command says where it is when stderr is not a terminal (a log, CI, `2> file`). */
export const PROGRESS_LINE_INTERVAL_MS = 10_000;

/**
 * Progress of a long command on stderr: a one-line bar on a terminal; otherwise a plain line every
 * PROGRESS_LINE_INTERVAL_MS and one at the end, so a run in the background is never silent.
 * `enabled`: true forces the bar, false silences it; left out, stderr decides.
 */
export class Progress {
  readonly #total: number;
  readonly #label: string;
  readonly #mode: 'bar' | 'lines' | 'off';
  readonly #write: (s: string) => void;
  readonly #t0 = performance.now();
  #done = 0;
  #last = 0;

  constructor(total: number, label: string, enabled?: boolean, write: (s: string) => void = (s) => process.stderr.write(s)) {
    this.#total = total;
    this.#label = label;
    this.#write = write;
    const mode = enabled === false ? 'off' : enabled === true || process.stderr.isTTY === true ? 'bar' : 'lines';
    this.#mode = total > 1 ? mode : 'off';
    this.#last = mode === 'lines' ? this.#t0 : 0;
  }

  tick(n = 1): void {
    this.#done += n;
    const now = performance.now();
    if (this.#mode === 'bar') {
      if (now - this.#last < 100 && this.#done < this.#total) return;
      this.#last = now;
      const width = 30;
      const filled = Math.round((Math.min(this.#done, this.#total) / this.#total) * width);
      this.#write(`\r${this.#label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${this.#done}/${this.#total} ${this.#rate(now)}/s`);
    } else if (this.#mode === 'lines' && now - this.#last >= PROGRESS_LINE_INTERVAL_MS) {
      this.#last = now;
      this.#write(`${this.#line(now)}\n`);
    }
  }

  end(): void {
    if (this.#mode === 'bar') this.#write('\n');
    else if (this.#mode === 'lines') this.#write(`${this.#line(performance.now())}, done\n`);
  }

  #rate(now: number): string {
    return (this.#done / Math.max((now - this.#t0) / 1000, 1e-3)).toFixed(1);
  }

  #line(now: number): string {
    const pct = Math.floor((100 * this.#done) / this.#total);
    return `${this.#label}: ${this.#done}/${this.#total} (${pct} %), ${this.#rate(now)}/s, ${((now - this.#t0) / 1000).toFixed(0)} s`;
  }
}

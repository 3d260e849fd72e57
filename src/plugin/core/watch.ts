import { unwatchFile, watchFile, type Stats } from 'node:fs';
import path from 'node:path';

export interface FileWatchOptions {
  /** How often each file's stat is polled. */
  intervalMs: number;
  /** Quiet time after the last change before `onChange` runs: one call for a burst of writes. */
  debounceMs: number;
}

/**
 * Calls `onChange` once the watched files stop changing. Polls stat by path (fs.watchFile) rather
 * than fs.watch: editors and rollouts replace files by rename, which leaves an inotify watch on the
 * old inode, and a file that does not exist yet (a model copied in after its manifest) is watched
 * all the same. Debounced because one edit is several writes, and a rollout writes a model file and
 * its manifest entry moments apart; reloading between the two would report a checksum mismatch
 * that the next write resolves. The timers never keep the process alive.
 */
export class FileWatch {
  readonly #o: FileWatchOptions;
  readonly #onChange: () => void;
  readonly #files = new Set<string>();
  #timer?: NodeJS.Timeout;
  #closed = false;

  constructor(o: FileWatchOptions, onChange: () => void) {
    this.#o = o;
    this.#onChange = onChange;
  }

  readonly #changed = (now: Stats, before: Stats): void => {
    if (this.#closed || (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino)) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => { if (!this.#closed) this.#onChange(); }, this.#o.debounceMs);
    this.#timer.unref();
  };

  /** Watches exactly `files` from now on (added ones start, dropped ones stop). */
  set(files: string[]): void {
    if (this.#closed) return;
    const next = new Set(files.map((f) => path.resolve(f)));
    for (const f of this.#files) if (!next.has(f)) { unwatchFile(f, this.#changed); this.#files.delete(f); }
    for (const f of next) {
      if (this.#files.has(f)) continue;
      watchFile(f, { interval: this.#o.intervalMs, persistent: false }, this.#changed);
      this.#files.add(f);
    }
  }

  get files(): string[] { return [...this.#files]; }

  /** Idempotent; a pending debounced change is dropped. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const f of this.#files) unwatchFile(f, this.#changed);
    this.#files.clear();
  }
}

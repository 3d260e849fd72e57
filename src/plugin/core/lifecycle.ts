/**
 * One shutdown order for everything a service starts (fastify's onClose): each part registers its
 * close hook as it starts, and close() runs them once, in reverse order of start, each awaited in
 * turn. A hook with a timeout is let go after it (a dead broker or collector must not hold the exit);
 * a hook that fails or times out does not stop the ones after it. Idempotent.
 */
export class Lifecycle {
  readonly #hooks: { name: string; close: () => unknown; timeoutMs?: number }[] = [];
  #closed?: Promise<LifecycleReport>;

  /** Registers `close` to run at close(), before the hooks registered earlier. */
  onClose(name: string, close: () => unknown, opts: { timeoutMs?: number } = {}): void {
    if (this.#closed) throw new Error(`lifecycle already closing: cannot add "${name}"`);
    this.#hooks.push({ name, close, timeoutMs: opts.timeoutMs });
  }

  get closing(): boolean { return this.#closed !== undefined; }

  /** Runs the close hooks once; the same promise for every later call. Never rejects. */
  close(): Promise<LifecycleReport> {
    this.#closed ??= (async () => {
      const report: LifecycleReport = { failed: [], timedOut: [] };
      for (const h of [...this.#hooks].reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = h.timeoutMs === undefined ? undefined : new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), h.timeoutMs).unref(); });
        try {
          const done = (async () => { await h.close(); return 'done' as const; })();
          if ((await (timeout ? Promise.race([done, timeout]) : done)) === 'timeout') report.timedOut.push(h.name);
        } catch (err) {
          report.failed.push({ name: h.name, error: err });
        } finally {
          clearTimeout(timer);
        }
      }
      return report;
    })();
    return this.#closed;
  }
}

export interface LifecycleReport {
  failed: { name: string; error: unknown }[];
  /** Hooks let go after their timeout (their work may still finish in the background). */
  timedOut: string[];
}

/** How long a service waits for a remote peer (Kafka, a collector) to let it go at shutdown. */
export const PEER_CLOSE_TIMEOUT_MS = 5000;

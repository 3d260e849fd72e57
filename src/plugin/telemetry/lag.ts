import type { Logger } from '../core/log.js';
import type { AdminPort } from '../kafka/port.js';

export interface PartitionLag { topic: string; partition: number; lag: number }

/**
 * Consumer lag of a group on one topic: end offset − committed offset per partition, polled
 * (a metrics scrape must not wait on the broker). A partition without a committed offset counts
 * from 0, as the gate starts such partitions from the beginning.
 */
export class LagPoller {
  readonly #admin: AdminPort;
  readonly #groupId: string;
  readonly #topic: string;
  readonly #log?: Logger;
  #timer?: NodeJS.Timeout;
  #running?: Promise<void>;
  #closed?: Promise<void>;
  last: PartitionLag[] = [];

  constructor(admin: AdminPort, groupId: string, topic: string, log?: Logger) {
    this.#admin = admin;
    this.#groupId = groupId;
    this.#topic = topic;
    this.#log = log;
  }

  start(intervalMs: number): void {
    if (this.#timer || this.#closed) return;
    void this.poll();
    this.#timer = setInterval(() => { void this.poll(); }, intervalMs).unref();
  }

  /** One poll; concurrent calls share it. Failures keep the last values (logged at debug). */
  poll(): Promise<void> {
    this.#running ??= (async () => {
      try {
        const [end, committed] = await Promise.all([this.#admin.endOffsets(this.#topic), this.#admin.committedOffsets(this.#groupId, this.#topic)]);
        this.last = [...end].sort(([a], [b]) => a - b).map(([partition, e]) => {
          const lag = BigInt(e) - BigInt(committed.get(partition) ?? '0');
          return { topic: this.#topic, partition, lag: Number(lag > 0n ? lag : 0n) };
        });
      } catch (err) {
        this.#log?.debug({ err, topic: this.#topic }, 'consumer lag poll failed');
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** Idempotent; waits for a poll in flight, then closes the admin client. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      await this.#running;
      await this.#admin.close();
    })();
    return this.#closed;
  }
}

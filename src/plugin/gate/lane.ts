import type { Frame } from '../core/frame.js';
import type { KafkaRecord, PartitionBatch } from '../kafka/port.js';

/** A chunk of one partition's records, handed to the pipeline as soon as it was fetched. */
export interface Chunk {
  /** The fetch it came from: its commit() and isActive() speak for its records. */
  batch: PartitionBatch;
  records: KafkaRecord[];
  /** The chunk's frames; the pipeline (started at hand-off) fills them in place. */
  frames: Frame[];
  /** The pipeline's run: resolves when every frame has its outcome. */
  done: Promise<unknown>;
  /** Set once `done` settled, so the publisher can take every finished chunk at once. */
  settled: boolean;
  /** The consumer's ownership() token at hand-in: exactly-once publishes the chunk only while it still holds. */
  ownership?: number;
}

/**
 * The work of one input partition in the gate. Chunks enter in offset order and run through the
 * pipeline concurrently (their frames share inference batches); they leave in the same order,
 * published and committed one publish at a time by a single drain loop, so commits never move
 * backwards and outputs keep the input's order. `inFlight` counts records handed in and not yet
 * committed or dropped: the gate keeps it at or below `gate.inFlightPerPartition`, which is what
 * bounds the duplicates after a crash.
 */
export class Lane {
  readonly queue: Chunk[] = [];
  inFlight = 0;
  draining?: Promise<void>;
  readonly #waiters: (() => void)[] = [];

  add(chunk: Chunk): void {
    this.queue.push(chunk);
    this.inFlight += chunk.records.length;
    // The pipeline never rejects (a stage's throw becomes its frames' errors); settle either way.
    const settle = () => { chunk.settled = true; };
    chunk.done.then(settle, settle);
  }

  /** Removes the first `n` chunks (published, committed or dropped) and wakes room() waiters; how many records they held. */
  release(n: number): number {
    let records = 0;
    for (const c of this.queue.splice(0, n)) records += c.records.length;
    this.inFlight -= records;
    this.wake();
    return records;
  }

  /** How many chunks at the head were handed in under another ownership token than `held`. */
  staleHead(held: number | undefined): number {
    let n = 0;
    while (n < this.queue.length && this.queue[n].ownership !== held) n++;
    return n;
  }

  /** The chunks at the head whose pipelines have finished (at least the head, once it has). */
  ready(): Chunk[] {
    let n = 0;
    while (n < this.queue.length && this.queue[n].settled) n++;
    return this.queue.slice(0, n);
  }

  /**
   * Resolves with how many more records fit under `limit` (at least 1), waiting while none do.
   * `cancelled` is checked at every wake-up (and `wake()` forces one): it then resolves 0.
   */
  async room(limit: number, cancelled: () => boolean): Promise<number> {
    while (this.inFlight >= limit) {
      if (cancelled()) return 0;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    return cancelled() ? 0 : limit - this.inFlight;
  }

  /** Wakes every room() waiter: to see the room a release made, or (stop, revocation) that it was cancelled. */
  wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

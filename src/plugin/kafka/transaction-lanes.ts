import { GateError } from '../core/errors.js';
import type { TransactionOffsets } from './port.js';

/** What a lane holds: one transactional producer, made on first use, closed with the lanes. */
export interface LaneSlot { close(): Promise<void> }

/**
 * One lane per transactional id (prefix + input topic + '-' + input partition), for both client
 * adapters: a producer holds one open transaction at a time, so the calls for one input partition
 * run one after another, and a failed one does not stop the next (it rejects its own caller).
 */
export class TransactionLanes<S extends LaneSlot> {
  readonly #prefix: string;
  readonly #make: (transactionalId: string) => S;
  readonly #lanes = new Map<string, { slot: S; queue: Promise<void> }>();

  constructor(prefix: string, make: (transactionalId: string) => S) {
    this.#prefix = prefix;
    this.#make = make;
  }

  /** Runs `transact` after the calls queued before it for the same input partition. */
  run(offsets: TransactionOffsets, transact: (slot: S) => Promise<void>): Promise<void> {
    const id = `${this.#prefix}${offsets.topic}-${offsets.partition}`;
    let lane = this.#lanes.get(id);
    if (!lane) this.#lanes.set(id, (lane = { slot: this.#make(id), queue: Promise.resolve() }));
    const { slot } = lane;
    const run = lane.queue.then(() => transact(slot));
    lane.queue = run.catch(() => undefined);
    return run;
  }

  /** Waits for what is queued, then closes every lane's producer. */
  async close(): Promise<void> {
    await Promise.all([...this.#lanes.values()].map(async ({ slot, queue }) => {
      await queue;
      await slot.close();
    }));
  }
}

/** `offsets.confirm()` as a step that throws KAFKA_FENCED when the partition is no longer this member's. */
export function confirmOwnership(offsets: TransactionOffsets): () => Promise<void> {
  return async () => {
    if (offsets.confirm && !(await offsets.confirm())) {
      throw new GateError('KAFKA_FENCED', `${offsets.topic}[${offsets.partition}] is no longer this member's: its transaction is not committed`);
    }
  };
}

import { describe, expect, it } from 'vitest';
import { TransactionLanes, confirmOwnership } from '../../../src/plugin/kafka/transaction-lanes.js';
import type { TransactionOffsets } from '../../../src/plugin/kafka/port.js';

const at = (topic: string, partition: number, confirm?: () => Promise<boolean>): TransactionOffsets => ({ groupId: 'g', topic, partition, offset: '0', confirm });

class FakeSlot {
  closed = false;
  constructor(readonly id: string) {}
  async close(): Promise<void> { this.closed = true; }
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('TransactionLanes', () => {
  it('run should queue the calls of one input partition, run other partitions beside them, and go on after a failure', async () => {
    const made: FakeSlot[] = [];
    const lanes = new TransactionLanes('tx-', (id) => { const s = new FakeSlot(id); made.push(s); return s; });
    const order: string[] = [];
    const first = deferred();
    const a1 = lanes.run(at('in', 0), async () => { order.push('a1 start'); await first.promise; order.push('a1 end'); });
    const a2 = lanes.run(at('in', 0), async (slot) => { order.push(`a2 on ${slot.id}`); });
    const b1 = lanes.run(at('in', 1), async (slot) => { order.push(`b1 on ${slot.id}`); });
    await b1;
    expect(order).toEqual(['a1 start', 'b1 on tx-in-1']);
    first.reject(new Error('fenced'));
    await expect(a1).rejects.toThrow('fenced');
    await a2;
    expect(order).toEqual(['a1 start', 'b1 on tx-in-1', 'a2 on tx-in-0']);
    expect(made.map((s) => s.id)).toEqual(['tx-in-0', 'tx-in-1']);
  });

  it('close should wait for the queued calls and then close every producer', async () => {
    const made: FakeSlot[] = [];
    const lanes = new TransactionLanes('tx-', (id) => { const s = new FakeSlot(id); made.push(s); return s; });
    const gate = deferred();
    const run = lanes.run(at('in', 0), () => gate.promise);
    const closing = lanes.close();
    await new Promise((r) => setTimeout(r, 10));
    expect(made[0].closed).toBe(false);
    gate.resolve();
    await Promise.all([run, closing]);
    expect(made[0].closed).toBe(true);
  });
});

describe('confirmOwnership', () => {
  it('confirmOwnership should throw KAFKA_FENCED when confirm says no, and pass when it says yes or is absent', async () => {
    await expect(confirmOwnership(at('in', 3, async () => false))()).rejects.toMatchObject({ code: 'KAFKA_FENCED', message: "in[3] is no longer this member's: its transaction is not committed" });
    await expect(confirmOwnership(at('in', 3, async () => true))()).resolves.toBeUndefined();
    await expect(confirmOwnership(at('in', 3))()).resolves.toBeUndefined();
  });
});

import { Consumer, kGetApi, kGetConnection } from '@platformatic/kafka';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PlatformaticConsumer } from '../../../src/plugin/kafka/platformatic-consumer.js';

/**
 * A commit under generation 1 is in flight while the member rejoins as generation 2; the broker
 * refuses the old commit (ILLEGAL_GENERATION) after the join was handled. No broker: the
 * coordinator lookup, connection and OffsetCommit API of the library are replaced, so the order
 * of events is exactly this one.
 */
type Inner = Consumer & Record<string | symbol, unknown> & { generationId: number; memberId: string };

function consumerWithStubbedCoordinator(refuse: 'old' | 'current'): { pc: PlatformaticConsumer; inner: Inner } {
  const seen: Inner[] = [];
  const on = Consumer.prototype.on;
  // The adapter's inner Consumer is private: catch it when the adapter subscribes to its events.
  const spy = vi.spyOn(Consumer.prototype, 'on').mockImplementation(function (this: Inner, ...a: Parameters<typeof on>) { seen.push(this); return on.apply(this, a); });
  const pc = new PlatformaticConsumer({ brokers: ['127.0.0.1:1'], clientId: 'x', groupId: 'g' });
  spy.mockRestore();
  const c = seen[0]!;
  // The stubs stand in for library internals: typed loosely on purpose.
  const stub = c as unknown as Record<string | symbol, unknown>;
  stub.findGroupCoordinator = async () => 1;
  stub.metadata = async () => ({ brokers: new Map([[1, { host: 'h', port: 1 }]]), topics: new Map() });
  stub[kGetConnection] = (_b: unknown, cb: (e: null, conn: object) => void) => cb(null, {});
  stub[kGetApi] = (_n: unknown, cb: (e: null, api: unknown) => void) => cb(null, (...args: unknown[]) => {
    const done = args[args.length - 1] as (e: Error) => void;
    if (refuse === 'old') {
      c.generationId = 2;
      c.emit('consumer:group:join', { assignments: [{ topic: 't', partitions: [0] }] });
    }
    setTimeout(() => done(Object.assign(new Error('ILLEGAL_GENERATION'), { apiId: 'ILLEGAL_GENERATION' })), 5);
  });
  c.memberId = 'm1';
  c.generationId = 1;
  c.emit('consumer:group:join', { assignments: [{ topic: 't', partitions: [0] }] });
  return { pc, inner: c };
}

describe('PlatformaticConsumer commit fencing', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a refused commit of an older generation should leave the current membership and its partitions', async () => {
    const { pc } = consumerWithStubbedCoordinator('old');
    expect(await pc.commitOffset('t', 0, 5n, { generationId: 1, memberId: 'm1' })).toBe(false);
    expect(pc.ownership('t', 0)).toBeDefined();
  });

  it('a refused commit of the current generation should end the membership', async () => {
    const { pc } = consumerWithStubbedCoordinator('current');
    expect(pc.ownership('t', 0)).toBeDefined();
    expect(await pc.commitOffset('t', 0, 5n, { generationId: 1, memberId: 'm1' })).toBe(false);
    expect(pc.ownership('t', 0)).toBeUndefined();
  });
});

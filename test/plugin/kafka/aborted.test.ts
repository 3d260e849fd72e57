import { createRequire } from 'node:module';
// Loaded first on purpose: the adapter must fix kafkajs even where someone imported it before.
import 'kafkajs';
import { describe, expect, it } from 'vitest';
import { filterAbortedMessages, type FetchedMessage } from '../../../src/plugin/kafka/aborted.js';
import { kafkajs } from '../../../src/plugin/kafka/kafkajs-lib.js';

const require = createRequire(import.meta.url);

const rec = (offset: number, producerId: number, inTransaction = true): FetchedMessage => ({ offset: String(offset), key: Buffer.from(`k${offset}`), batchContext: { producerId: String(producerId), inTransaction } });
const marker = (offset: number, producerId: number, type: 'abort' | 'commit'): FetchedMessage => ({
  offset: String(offset), key: Buffer.from([0, 0, 0, type === 'abort' ? 0 : 1]), isControlRecord: true, batchContext: { producerId: String(producerId), inTransaction: true },
});

// Two transactions overlap: producer 7 begins at 10, producer 8 at 12; 8 is aborted first, so the
// broker lists it first. Producer 9 commits in between; offset 15 is not transactional.
const partition = [rec(10, 7), rec(11, 9), rec(12, 8), rec(13, 7), marker(14, 9, 'commit'), rec(15, 1, false), marker(16, 8, 'abort'), rec(17, 7), marker(18, 7, 'abort'), rec(19, 8)];
const abortedTransactions = [{ producerId: '8', firstOffset: '12' }, { producerId: '7', firstOffset: '10' }];

describe('filterAbortedMessages', () => {
  it('filterAbortedMessages should drop every record of overlapping aborted transactions, whatever order the broker lists them in', () => {
    const kept = filterAbortedMessages({ messages: partition, abortedTransactions }).filter((m) => !m.isControlRecord).map((m) => m.offset);
    // 19 comes after producer 8's abort marker: a later transaction of the same producer.
    expect(kept).toEqual(['11', '15', '19']);
  });

  it('filterAbortedMessages should give the same result for the list sorted by first offset', () => {
    const sorted = [...abortedTransactions].reverse();
    expect(filterAbortedMessages({ messages: partition, abortedTransactions: sorted })).toEqual(filterAbortedMessages({ messages: partition, abortedTransactions }));
  });

  it('filterAbortedMessages should keep a producer\'s committed transaction between two of its aborted ones', () => {
    // Producer 7 (one transactional id, as the exactly-once gate's per input partition): abort, commit, abort.
    const one = [rec(20, 7), marker(21, 7, 'abort'), rec(22, 7), marker(23, 7, 'commit'), rec(24, 7), marker(25, 7, 'abort'), rec(26, 1, false)];
    const kept = filterAbortedMessages({ messages: one, abortedTransactions: [{ producerId: '7', firstOffset: '24' }, { producerId: '7', firstOffset: '20' }] });
    expect(kept.filter((m) => !m.isControlRecord).map((m) => m.offset)).toEqual(['22', '26']);
  });

  it('filterAbortedMessages should drop an aborted transaction\'s records whose marker lies past the fetched records', () => {
    const cut = [rec(30, 7), rec(31, 1, false), rec(32, 7)];
    expect(filterAbortedMessages({ messages: cut, abortedTransactions: [{ producerId: '7', firstOffset: '30' }] }).map((m) => m.offset)).toEqual(['31']);
  });

  it('filterAbortedMessages should keep everything when no transaction was aborted', () => {
    expect(filterAbortedMessages({ messages: partition, abortedTransactions: [] })).toBe(partition);
  });

  it('kafkajs-lib should load kafkajs with the fixed filter even after kafkajs was imported directly', () => {
    expect(require.cache[require.resolve('kafkajs/src/consumer/filterAbortedMessages.js')]?.exports).toBe(filterAbortedMessages);
    expect(typeof kafkajs.Kafka).toBe('function');
    // kafkajs's own Batch, as its consumer builds one per fetched partition.
    const Batch = require('kafkajs/src/consumer/batch.js') as new (topic: string, fetchedOffset: string, data: object) => { messages: FetchedMessage[] };
    const batch = new Batch('t', '10', { partition: 0, highWatermark: '20', messages: partition, abortedTransactions });
    expect(batch.messages.map((m) => m.offset)).toEqual(['11', '15', '19']);
  });
});

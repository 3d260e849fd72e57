/** The slice of a fetched record that read_committed filtering needs (kafkajs's message shape; the platformatic adapter builds the same). */
export interface FetchedMessage {
  offset: string;
  key?: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string | number; inTransaction: boolean };
}

export interface AbortedTransaction { producerId: string | number; firstOffset: string }

// Control record key: version 0, type 0 (ABORT); COMMIT is type 1.
const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

const isAbortMarker = (m: FetchedMessage) => m.isControlRecord === true && m.key != null && Buffer.from(m.key).equals(ABORT_MARKER_KEY);

/**
 * Drops the records of aborted transactions from one fetched partition, as Java's consumer does
 * (Fetcher's abortedProducerIds with a priority queue on first offset); both adapters use it.
 * - kafkajs 2.2.4's own filter walks the broker's aborted-transaction list in list order, but
 *   brokers list aborted transactions in the order they ended: when two aborted transactions
 *   overlap in a partition, the records of the one that began first reach read_committed
 *   consumers. Seen on Kafka 4.4 with the exactly-once gate killed while two partitions had
 *   transactions open.
 * - @platformatic/kafka 1.35 keeps one range per producer id, from one of its aborted
 *   transactions to its last abort marker: a producer's committed transactions between two of
 *   its aborted ones are dropped, or its earlier aborted records delivered (the exactly-once gate
 *   restarted after a SIGKILL: one producer id per input partition, 246 outcomes lost).
 * Control records are kept (the adapters drop them after this filter).
 */
export function filterAbortedMessages<M extends FetchedMessage>({ messages, abortedTransactions }: { messages: M[]; abortedTransactions?: AbortedTransaction[] }): M[] {
  if (!abortedTransactions || abortedTransactions.length === 0) return messages;
  const pending = [...abortedTransactions].sort((a, b) => {
    const d = BigInt(a.firstOffset) - BigInt(b.firstOffset);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
  const aborting = new Set<string>();
  let next = 0;
  return messages.filter((m) => {
    const offset = BigInt(m.offset);
    // Every aborted transaction that began at or before this record, not only the first listed.
    while (next < pending.length && offset >= BigInt(pending[next].firstOffset)) aborting.add(String(pending[next++].producerId));
    const producerId = String(m.batchContext.producerId);
    if (isAbortMarker(m)) {
      aborting.delete(producerId);
      return true;
    }
    return !(m.batchContext.inTransaction && aborting.has(producerId));
  });
}

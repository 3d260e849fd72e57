/**
 * A transaction that adds a partition and is aborted without a record written there: what a
 * producer killed between AddPartitionsToTxn and Produce leaves. The broker writes an abort marker
 * into the partition but lists no aborted transaction for it (its log never saw the transaction
 * begin), so a read_committed reader meets a marker of a producer id the answer does not name.
 * No client exposes these steps, hence platformatic's protocol-level APIs on one connection.
 */
import { Connection, addPartitionsToTxnV3, endTxnV4, initProducerIdV5 } from '@platformatic/kafka';

const call = <T>(f: (cb: (err: Error | null, v: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))));

/** One broker holds every coordinator in the test set-up; `broker` is host:port. */
export async function abortWithoutRecords(broker: string, topic: string, partition: number, transactionalId: string): Promise<void> {
  const [host, port] = broker.split(':');
  const connection = new Connection(`raw-txn-${transactionalId}`);
  try {
    await call<void>((cb) => connection.connect(host, Number(port), cb as () => void));
    let init: { producerId: bigint; producerEpoch: number } | undefined;
    // The transaction coordinator may still be loading its partition on a fresh broker.
    for (let attempt = 0; !init; attempt++) {
      try {
        init = await call((cb) => initProducerIdV5.api(connection, transactionalId, 60_000, -1n, -1, cb));
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const { producerId, producerEpoch } = init;
    await call((cb) => addPartitionsToTxnV3.api(connection, [{ transactionalId, producerId, producerEpoch, verifyOnly: false, topics: [{ name: topic, partitions: [partition] }] }], cb));
    await call((cb) => endTxnV4.api(connection, transactionalId, producerId, producerEpoch, false, cb));
  } finally {
    await call<void>((cb) => connection.close(cb as () => void)).catch(() => undefined);
  }
}

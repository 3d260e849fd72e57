import { PlatformaticAdmin } from './platformatic-admin.js';
import { PlatformaticConsumer } from './platformatic-consumer.js';
import { PlatformaticProducer, PlatformaticTransactionalProducer } from './platformatic-producer.js';
import type { KafkaLogger } from './kafkajs-support.js';
import type { KafkaClient } from './port.js';

export interface PlatformaticClientOptions {
  brokers: string[];
  clientId: string;
  /** Where the adapter's own log lines go (platformatic itself logs nothing; it reports through diagnostics_channel). */
  logger?: KafkaLogger;
  /** TCP connect timeout per broker (default 3000 ms). */
  connectionTimeoutMs?: number;
  /** Longest wait of a consumer fetch for new records (default 1000 ms). */
  maxWaitTimeMs?: number;
}

/**
 * @platformatic/kafka behind the port (`kafka.client: platformatic`). Where it differs from the
 * kafkajs adapter:
 * - The consumer uses platformatic's group membership (classic protocol) and Fetch API with the
 *   adapter's own fetch loop (positions move only through commit/advance, per-partition pause).
 *   platformatic rejoins as soon as a heartbeat reports a rebalance, without waiting for handlers:
 *   the batches in flight turn inactive at that moment.
 * - Transactions: one transactional id per input partition, offsets through TxnOffsetCommit
 *   without the consumer's generation (as kafkajs does), zombies kept out by `confirm()`.
 * - read_committed filtering is the adapter's (aborted.ts, as for kafkajs): it calls the Fetch API
 *   itself and filters the raw answer, since platformatic's own filter keeps one range per
 *   producer id and throws on an abort marker the broker did not list (platformatic-support.ts).
 * - Offset commits go under the generation the records were fetched in, without platformatic's
 *   commit(), which rejoins and commits again under a new generation.
 * - One produce request in flight per partition: platformatic numbers an idempotent producer's
 *   batches from the last acknowledged one. The gate's sends mostly touch every output partition,
 *   so they go one after another; BENCHMARKS.md measures the cost (why kafkajs stays the default).
 */
export function createPlatformaticClient(opts: PlatformaticClientOptions): KafkaClient {
  const conn = { brokers: opts.brokers, clientId: opts.clientId, connectionTimeoutMs: opts.connectionTimeoutMs };
  return {
    consumer: (c) => new PlatformaticConsumer({ ...conn, maxWaitTimeMs: opts.maxWaitTimeMs, ...c }, opts.logger),
    producer: (p = {}) =>
      p.transactionalIdPrefix !== undefined
        ? new PlatformaticTransactionalProducer(conn, p.transactionalIdPrefix, opts.logger)
        : new PlatformaticProducer(conn, opts.logger),
    admin: () => new PlatformaticAdmin(conn, opts.logger),
  };
}

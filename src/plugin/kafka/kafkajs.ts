import { Kafka } from './kafkajs-lib.js';
import { KafkajsAdmin } from './kafkajs-admin.js';
import { KafkajsConsumer, type KafkajsConsumerOptions } from './kafkajs-consumer.js';
import { KafkajsProducer, KafkajsTransactionalProducer } from './kafkajs-producer.js';
import { kafkaLogCreator, kafkaLogLevel, type KafkaLogger, type KafkaLogLevelName } from './kafkajs-support.js';
import type { KafkaClient } from './port.js';

export type { KafkaLogger, KafkaLogLevelName };

export interface KafkajsClientOptions {
  brokers: string[];
  clientId: string;
  /** Where kafkajs logs go; without one they are dropped (kafkajs would print to the console). */
  logger?: KafkaLogger;
  /** Defaults to the logger's own level (pino's `level`), else warn. */
  logLevel?: KafkaLogLevelName;
  /** TCP connect timeout per broker (kafkajs default 1000 ms). */
  connectionTimeoutMs?: number;
  /** Longest wait of a consumer fetch for new records (default 1000 ms). */
  maxWaitTimeMs?: number;
}

/**
 * The production client: kafkajs behind the port. The only place a `Kafka` instance is made.
 * What kafkajs 2.2.4 cannot do, and how the adapter copes (checked against Kafka 4.x):
 * - Rebalances are eager and have no revoke callback: a member notices one through a failed
 *   heartbeat (background, every heartbeat interval) and rejoins only after its handlers return,
 *   so `isActive()` turns false on all its batches, not only the moved ones.
 * - No KIP-447 (group metadata in transactions): exactly-once fences zombies with one
 *   transactional id per input partition; a new owner's first transaction fences the old one.
 *   A member evicted while it worked (paused past its session) would otherwise commit its stale
 *   work or initialise the id again and fence the new owner: each transaction asks the consumer
 *   (`confirmOwnership`: a heartbeat unless one succeeded within the interval) before it touches
 *   the producer and right before it commits, and work handed in before a rejoin is dropped. What
 *   is left is a race of milliseconds at a rebalance: the new owner may read the committed offsets
 *   before the old owner's last commit markers are written, and then redo that transaction's
 *   records (duplicates, never losses).
 * - Its read_committed filter lets records of an aborted transaction through when two aborted
 *   transactions overlap in a partition: kafkajs-lib.ts loads it with a fixed filter.
 * - Admin offsets are listed read_committed: `endOffsets` is the last stable offset, and a
 *   committed transaction shows there (and to read_committed readers) once its markers are written.
 */
export function createKafkajsClient(opts: KafkajsClientOptions): KafkaClient {
  const kafka = new Kafka({
    brokers: opts.brokers,
    clientId: opts.clientId,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    logLevel: kafkaLogLevel(opts.logLevel ?? opts.logger?.level),
    logCreator: kafkaLogCreator(opts.logger),
  });
  return {
    consumer: (c) => new KafkajsConsumer(kafka, { maxWaitTimeMs: opts.maxWaitTimeMs, ...c } satisfies KafkajsConsumerOptions, opts.logger),
    producer: (p = {}) =>
      p.transactionalIdPrefix !== undefined
        ? new KafkajsTransactionalProducer(kafka, p.transactionalIdPrefix, opts.logger)
        : new KafkajsProducer(kafka, opts.logger),
    admin: () => new KafkajsAdmin(kafka, opts.logger),
  };
}

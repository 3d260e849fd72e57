import { Kafka } from 'kafkajs';
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

/** The production client: kafkajs behind the port. The only place a `Kafka` instance is made. */
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

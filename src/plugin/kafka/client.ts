import { createKafkajsClient, type KafkaLogger } from './kafkajs.js';
import { createPlatformaticClient } from './platformatic.js';
import type { KafkaClient } from './port.js';

export const KAFKA_CLIENT_KINDS = ['kafkajs', 'platformatic'] as const;
export type KafkaClientKind = (typeof KAFKA_CLIENT_KINDS)[number];

/** What both adapters take; `maxWaitTimeMs` (longest fetch wait) lets tests and the bench shorten idle polls. */
export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger?: KafkaLogger;
  maxWaitTimeMs?: number;
}

/** The client named by `kafka.client` (kafkajs unless 'platformatic'); both pass the same port contract (test/plugin/kafka/contract.ts). */
export function createKafkaClient(kind: string, opts: KafkaClientOptions): KafkaClient {
  return kind === 'platformatic' ? createPlatformaticClient(opts) : createKafkajsClient(opts);
}

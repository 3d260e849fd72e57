import { createKafkajsClient, type KafkaLogger } from './kafkajs.js';
import { createPlatformaticClient } from './platformatic.js';
import type { KafkaClient } from './port.js';

/** The client named by `kafka.client` (kafkajs unless 'platformatic'); both pass the same port contract (test/plugin/kafka/contract.ts). */
export function createKafkaClient(kind: string, opts: { brokers: string[]; clientId: string; logger?: KafkaLogger }): KafkaClient {
  return kind === 'platformatic' ? createPlatformaticClient(opts) : createKafkajsClient(opts);
}

import { describe, expect, it } from 'vitest';
import { createMemoryClient } from '../../../src/plugin/kafka/memory.js';
import type { PartitionBatch } from '../../../src/plugin/kafka/port.js';
import { kafkaContract } from './contract.js';

kafkaContract('memory client', async () => ({
  client: createMemoryClient(),
  sessionTimeoutMs: 6000,
  settleMs: 50,
  waitMs: 2000,
  close: async () => {},
}));

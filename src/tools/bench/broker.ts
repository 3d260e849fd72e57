import { demoBroker } from '../demo/broker.js';

/**
 * The broker the end-to-end benchmarks run against: DIFFIQA_GATE__KAFKA__BROKERS when set, else
 * the demo's: the project's local broker (deploy/kafka/broker.sh), started if needed, or one on
 * free ports when another process holds 9092; stopped afterwards only when this run started it.
 */
export async function benchBroker(log: (m: string) => void): Promise<{ brokers: string[]; release(): Promise<void> }> {
  const env = process.env.DIFFIQA_GATE__KAFKA__BROKERS;
  if (env) return { brokers: env.split(',').map((b) => b.trim()).filter(Boolean), release: async () => {} };
  const broker = await demoBroker(log);
  return { brokers: broker.address.split(','), release: async () => { if (broker.started) await broker.stop(); } };
}

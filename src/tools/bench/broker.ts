import { localBrokerRunning, startLocalBroker, stopLocalBroker } from '../demo/broker.js';

/**
 * The broker the end-to-end benchmarks run against: DIFFIQA_GATE__KAFKA__BROKERS when set, else
 * the project's local broker (deploy/kafka/broker.sh), started if needed and stopped afterwards
 * only when this run started it.
 */
export async function benchBroker(log: (m: string) => void): Promise<{ brokers: string[]; release(): Promise<void> }> {
  const env = process.env.DIFFIQA_GATE__KAFKA__BROKERS;
  if (env) return { brokers: env.split(',').map((b) => b.trim()).filter(Boolean), release: async () => {} };
  const started = !(await localBrokerRunning());
  if (started) log('starting the local Kafka broker (deploy/kafka/broker.sh)…');
  const address = await startLocalBroker();
  return { brokers: address.split(','), release: async () => { if (started) await stopLocalBroker(); } };
}

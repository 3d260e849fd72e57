import { PEER_CLOSE_TIMEOUT_MS, type Lifecycle } from '../core/lifecycle.js';
import type { Gate } from '../gate/gate.js';
import type { ConsumerPort, ProducerPort } from '../kafka/port.js';

/**
 * The one shutdown of a consume → publish → commit service, run once however often it is asked:
 * drain within the deadline, then the close hooks its parts registered as they started, in reverse
 * (Kafka, stages, models). Resolves true when the drain was clean.
 */
export function drainThenClose(gate: Gate, life: Lifecycle): (deadlineMs: number) => Promise<boolean> {
  let closed: Promise<boolean> | undefined;
  return (deadlineMs) => {
    closed ??= (async () => {
      const clean = await gate.stop(deadlineMs);
      await life.close();
      return clean;
    })();
    return closed;
  };
}

/** Leaving the group and the producer, bounded: a dead broker must not hold the exit. */
export function leaveKafkaOnClose(life: Lifecycle, consumer: ConsumerPort, producer: ProducerPort): void {
  life.onClose('kafka', async () => { await consumer.disconnect(); await producer.disconnect(); }, { timeoutMs: PEER_CLOSE_TIMEOUT_MS });
}

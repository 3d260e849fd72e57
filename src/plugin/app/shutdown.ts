import type { Gate } from '../gate/gate.js';
import type { ConsumerPort, ProducerPort } from '../kafka/port.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { ModelRuntime } from '../scorers/runtime.js';

/**
 * The one shutdown order of a consume → publish → commit service, run once however often it is
 * asked: drain within the deadline, leave Kafka (bounded: a dead broker must not hold the exit),
 * then close stages and models in reverse order of start. Resolves true when the drain was clean.
 */
export function onceShutdown(parts: { gate: Gate; consumer: ConsumerPort; producer: ProducerPort; pipeline: Pipeline; runtime: ModelRuntime }): (deadlineMs: number) => Promise<boolean> {
  let closed: Promise<boolean> | undefined;
  return (deadlineMs) => {
    closed ??= (async () => {
      const clean = await parts.gate.stop(deadlineMs);
      await Promise.race([
        (async () => { await parts.consumer.disconnect(); await parts.producer.disconnect(); })(),
        new Promise((r) => setTimeout(r, 5000).unref()),
      ]);
      await parts.pipeline.close();
      await parts.runtime.close();
      return clean;
    })();
    return closed;
  };
}

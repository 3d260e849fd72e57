/**
 * Your own kafkajs consumer, with the quality scorer inside eachBatch: a pipeline that already
 * reads face crops (here raw JPEG/PNG/WebP bytes as message values) scores each fetched batch in
 * one call and publishes a JSON verdict per message, committing only what it published.
 *
 *   npm run build && node --experimental-strip-types examples/kafkajs-consumer/consumer.ts   (Node ≥ 22.6)
 *   (or compile it with tsc; test/examples/kafkajs-consumer.test.ts runs it against the real broker)
 */
import { Kafka, logLevel, type EachBatchPayload } from 'kafkajs';
import { createQualityScorer, type QualityScorer } from 'diffiqa-gate';

export interface ExampleOptions {
  brokers: string[];
  inputTopic: string;
  outputTopic: string;
  groupId: string;
  /** Keys of docs/configuration.md, e.g. `{ 'models.mirror': '../shared' }`. */
  config?: Record<string, unknown>;
}

export interface RunningExample {
  /** Leaves the group (offsets of published batches are committed) and frees the models. */
  stop(): Promise<void>;
}

export async function startExample(o: ExampleOptions): Promise<RunningExample> {
  // Loads the models once (fails fast with a coded error); one scorer serves every partition.
  const scorer: QualityScorer = await createQualityScorer({ mode: 'inline', config: o.config });
  const kafka = new Kafka({ clientId: 'my-pipeline', brokers: o.brokers, logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId: o.groupId });
  const producer = kafka.producer();
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: o.inputTopic, fromBeginning: true });

  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
      if (!isRunning() || isStale() || batch.messages.length === 0) return;
      // One call per fetched batch: the scorer runs the faces concurrently, so the model's micro-batches fill.
      const results = await scorer.score(batch.messages.map((m) => ({ bytes: m.value ?? Buffer.alloc(0), id: `${batch.partition}/${m.offset}` })));
      // A bad image is a result with a coded error (INPUT_IMAGE_FORMAT, …), never a throw: route it as you like.
      await producer.send({
        topic: o.outputTopic,
        messages: results.map((r, i) => ({
          key: batch.messages[i].key,
          value: JSON.stringify(r.error ? { id: r.id, reason: r.error.code } : { id: r.id, score: r.score, decision: r.decision, model: r.inline?.modelId }),
        })),
      });
      // Published, so these offsets may be committed (at-least-once).
      resolveOffset(batch.messages[batch.messages.length - 1].offset);
      await heartbeat();
    },
  });

  return {
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
      await scorer.close();
    },
  };
}

// Run as a script: environment in, Ctrl-C out.
if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await startExample({
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    inputTopic: process.env.INPUT_TOPIC ?? 'face-images',
    outputTopic: process.env.OUTPUT_TOPIC ?? 'face-verdicts',
    groupId: process.env.GROUP_ID ?? 'my-pipeline',
  });
  process.once('SIGINT', () => void app.stop());
  process.once('SIGTERM', () => void app.stop());
}

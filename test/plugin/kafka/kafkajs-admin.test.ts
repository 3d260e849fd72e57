import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { GateError } from '../../../src/plugin/core/errors.js';
import { KafkajsAdmin } from '../../../src/plugin/kafka/kafkajs-admin.js';

/** kafkajs's protocol error as its admin rejects with it (bail passes the original through). */
function protocolError(type: string, retriable: boolean): Error {
  return Object.assign(new Error(type === 'UNKNOWN_TOPIC_OR_PARTITION' ? 'This server does not host this topic-partition' : type), { name: 'KafkaJSProtocolError', type, retriable });
}

/** A kafkajs admin whose createTopics fails with `errors` in turn, then succeeds. */
function fakeKafka(errors: Error[]): { kafka: Kafka; calls: () => number } {
  let calls = 0;
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    createTopics: async () => {
      const err = errors[calls++];
      if (err) throw err;
      return true;
    },
  };
  return { kafka: { admin: () => admin } as unknown as Kafka, calls: () => calls };
}

describe('KafkajsAdmin', () => {
  it('createTopics should try again while the broker does not know the topics it just created', async () => {
    const { kafka, calls } = fakeKafka([protocolError('UNKNOWN_TOPIC_OR_PARTITION', true), protocolError('UNKNOWN_TOPIC_OR_PARTITION', true)]);
    await new KafkajsAdmin(kafka).createTopics([{ topic: 't', partitions: 3 }]);
    expect(calls()).toBe(3);
  });

  it('createTopics should fail at once on other errors', async () => {
    const { kafka, calls } = fakeKafka([protocolError('INVALID_REPLICATION_FACTOR', false)]);
    const err = await new KafkajsAdmin(kafka).createTopics([{ topic: 't', partitions: 3 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GateError);
    expect((err as GateError).details?.type).toBe('INVALID_REPLICATION_FACTOR');
    expect(calls()).toBe(1);
  });
});

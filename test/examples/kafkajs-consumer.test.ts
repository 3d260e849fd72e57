/**
 * examples/kafkajs-consumer against the real broker (deploy/kafka/broker.sh start): raw face images
 * in, one JSON verdict per message out, a broken image answered with its reason code.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExample, type RunningExample } from '../../examples/kafkajs-consumer/consumer.js';
import { assertBroker, brokers, waitFor } from '../helpers/gate-harness.js';
import { sharedDir, sharedPath } from '../helpers/shared.js';

const kafka = new Kafka({ clientId: 'example-test', brokers, logLevel: logLevel.NOTHING });
let example: RunningExample | undefined;

beforeAll(assertBroker);
afterAll(async () => { await example?.stop(); });

describe('example: own kafkajs consumer', () => {
  it('startExample should publish one verdict per image, with a reason code for a broken one, and commit', async () => {
    const run = `example-${randomUUID().slice(0, 8)}`;
    const [inputTopic, outputTopic, groupId] = [`${run}-images`, `${run}-verdicts`, `${run}-pipeline`];
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: inputTopic, numPartitions: 2 }, { topic: outputTopic, numPartitions: 1 }], waitForLeaders: true });
    const people = ['Aaron_Eckhart', 'Abel_Pacheco', 'Aaron_Peirsol', 'Abdullah_Gul'];
    const messages = [
      ...people.map((p) => ({ key: p, value: readFileSync(sharedPath('data', 'lfw', p, `${p}_0001.jpg`)) })),
      { key: 'garbage', value: Buffer.from('not an image') },
    ];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: inputTopic, messages });
    await producer.disconnect();

    example = await startExample({ brokers, inputTopic, outputTopic, groupId, config: { 'models.mirror': sharedDir(), 'inference.workers': 1 } });
    const verdicts = new Map<string, Record<string, unknown>>();
    const reader = kafka.consumer({ groupId: `${run}-reader` });
    await reader.connect();
    await reader.subscribe({ topic: outputTopic, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => { verdicts.set(message.key!.toString(), JSON.parse(message.value!.toString())); } });
    try {
      await waitFor('every verdict', () => verdicts.size === messages.length, 60_000);
    } finally {
      await reader.disconnect();
    }
    for (const p of people) expect(verdicts.get(p)).toMatchObject({ model: 'ediffiqa-t-own', decision: expect.stringMatching(/^(ACCEPT|REJECT|BORDERLINE)$/), score: expect.any(Number) });
    expect(verdicts.get('garbage')).toMatchObject({ reason: 'INPUT_IMAGE_FORMAT' });

    await example.stop();
    example = undefined;
    const committed = await admin.fetchOffsets({ groupId, topics: [inputTopic] });
    const ends = await admin.fetchTopicOffsets(inputTopic);
    await admin.disconnect();
    expect(committed[0].partitions.map((p) => [p.partition, p.offset]).sort()).toEqual(ends.map((e) => [e.partition, e.high]).sort());
  });
});

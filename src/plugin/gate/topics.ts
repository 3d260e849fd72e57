import { GateError } from '../core/errors.js';
import type { KafkaClient } from '../kafka/port.js';
import type { Topics } from '../pipeline/codecs.js';

/** Room a dead letter keeps for its own fields (reason, message, ids, source) and the record's framing. */
const DEAD_LETTER_ENVELOPE_BYTES = 64 * 1024;

/**
 * Start-up checks of the gate's topics, so that a wrong setting fails the start with a coded error
 * and a hint instead of a consumer that waits for a topic forever: the input topic must exist (it is
 * never created here: a typo would silently make an empty one), the output topics are created where
 * missing, and the DLQ's record limit sets how much of an original message a dead letter may carry.
 */
export async function checkTopics(client: KafkaClient, topics: Topics, log: { info(obj: object, msg: string): void }): Promise<{ deadLetterMaxOriginalBytes: number }> {
  const admin = client.admin();
  try {
    if ((await admin.partitionCount(topics.input)) === 0) {
      throw new GateError('KAFKA_TOPIC_MISSING', `input topic "${topics.input}" does not exist: create it, or fix kafka.inputTopic`, { details: { key: 'kafka.inputTopic', topic: topics.input } });
    }
    await admin.createTopics([topics.output, topics.escalation, topics.dlq].map((topic) => ({ topic, partitions: 3 })));
    const dlqLimit = await admin.maxMessageBytes(topics.dlq);
    const deadLetterMaxOriginalBytes = Math.max(0, dlqLimit - DEAD_LETTER_ENVELOPE_BYTES);
    log.info({ dlqTopic: topics.dlq, dlqMaxMessageBytes: dlqLimit, deadLetterMaxOriginalBytes }, 'dead letters carry the original message up to this size');
    return { deadLetterMaxOriginalBytes };
  } finally {
    await admin.close();
  }
}

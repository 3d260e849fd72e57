import type { Frame } from '../core/frame.js';
import type { KafkaRecord } from '../kafka/port.js';

/** A Kafka record as a frame: ids are provisional until the Avro value is decoded. */
export function frameFromRecord(r: KafkaRecord): Frame {
  return {
    id: `${r.topic}/${r.partition}/${r.offset}`,
    cameraId: r.key?.toString() ?? '',
    source: { topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp },
    timings: {},
    receivedAt: performance.now(),
  };
}

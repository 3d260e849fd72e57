import { AvroCodec } from '../../schemas/codec.js';
import { deadLetterType, escalationRequestType, faceCropType, faceQualityType } from '../../schemas/index.js';
import { HttpSchemaRegistry, MemoryRegistry, valueSubject, type SchemaRegistry } from '../../schemas/registry.js';

export interface Topics { input: string; output: string; escalation: string; dlq: string }

/**
 * A registry without a server: the bundled schemas registered in a fixed order, so separate
 * processes (camera simulator, gate, escalation stage) agree on ids 1..4 without talking.
 */
export async function embeddedRegistry(): Promise<MemoryRegistry> {
  const r = new MemoryRegistry();
  for (const t of [faceCropType, faceQualityType, deadLetterType, escalationRequestType]) await r.register(`embedded-${t.name}`, t);
  return r;
}

export async function createRegistry(type: string, url: string): Promise<SchemaRegistry> {
  return type === 'http' ? new HttpSchemaRegistry(url) : embeddedRegistry();
}

/** One codec that writes each topic's record type under Confluent's TopicNameStrategy subjects. */
export function createCodec(registry: SchemaRegistry, topics: Topics): AvroCodec {
  return new AvroCodec(registry, {
    [valueSubject(topics.input)]: faceCropType,
    [valueSubject(topics.output)]: faceQualityType,
    [valueSubject(topics.escalation)]: escalationRequestType,
    [valueSubject(topics.dlq)]: deadLetterType,
  });
}

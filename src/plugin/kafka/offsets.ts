import { GateError } from '../core/errors.js';

/** Map key for a topic-partition; NUL cannot occur in a topic name. */
export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Parses an offset the gate hands back; a malformed one is a programming error, not bad input. */
export function parseOffset(offset: string): bigint {
  if (!/^\d+$/.test(offset)) throw new GateError('USAGE', `not a Kafka offset: ${JSON.stringify(offset)}`);
  return BigInt(offset);
}

/** Checks that `offset` lies in a batch whose records span [first, last]. */
export function offsetInBatch(offset: string, first: string, last: string): bigint {
  const n = parseOffset(offset);
  if (n < BigInt(first) || n > BigInt(last)) {
    throw new GateError('USAGE', `offset ${offset} is outside the batch [${first}, ${last}]`);
  }
  return n;
}

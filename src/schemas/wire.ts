import type avro from 'avsc';
import { GateError } from '../plugin/core/errors.js';

/**
 * Confluent wire format: magic byte 0, the writer schema's registry id as a 4-byte big-endian
 * integer, then the Avro binary body. Any Confluent-compatible producer or consumer reads it.
 */

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

/** Encodes `value` with `type` behind the wire header. Throws if `value` does not fit `type`. */
export function encode(schemaId: number, type: avro.Type, value: unknown): Buffer {
  return frame(schemaId, type.toBuffer(value));
}

/** Puts the wire header in front of an Avro body. */
export function frame(schemaId: number, payload: Buffer): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffffffff) {
    throw new GateError('INTERNAL', `schema id ${schemaId} does not fit 4 unsigned bytes`);
  }
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  buf.writeUInt8(MAGIC_BYTE, 0);
  buf.writeUInt32BE(schemaId, 1);
  payload.copy(buf, HEADER_BYTES);
  return buf;
}

/** Splits a wire-format message; the payload is a view into `buf`, not a copy. */
export function parseWire(buf: Buffer | null | undefined): { schemaId: number; payload: Buffer } {
  if (!buf || buf.length < HEADER_BYTES) {
    throw new GateError('INPUT_NOT_WIRE_FORMAT', `message of ${buf?.length ?? 0} bytes is shorter than the ${HEADER_BYTES}-byte wire header`, {
      details: { length: buf?.length ?? 0 },
    });
  }
  if (buf[0] !== MAGIC_BYTE) {
    throw new GateError('INPUT_NOT_WIRE_FORMAT', `magic byte is ${buf[0]}, expected ${MAGIC_BYTE}`, { details: { magic: buf[0] } });
  }
  return { schemaId: buf.readUInt32BE(1), payload: buf.subarray(HEADER_BYTES) };
}

import { describe, expect, it } from 'vitest';
import { GateError } from '../../src/plugin/core/errors.js';
import { faceCropType } from '../../src/schemas/index.js';
import { encode, frame, parseWire } from '../../src/schemas/wire.js';
import { sampleFaceCrop } from './fixtures/samples.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof GateError ? err.code : `uncoded: ${String(err)}`;
  }
  return undefined;
}

describe('wire', () => {
  it('encode should write magic byte 0, the big-endian schema id, then the Avro body', () => {
    const value = sampleFaceCrop();
    const buf = encode(0x01020304, faceCropType, value);
    expect([...buf.subarray(0, 5)]).toEqual([0, 1, 2, 3, 4]);
    expect(buf.subarray(5).equals(faceCropType.toBuffer(value))).toBe(true);
  });

  it('parseWire should return the schema id and the payload written by encode', () => {
    const value = sampleFaceCrop();
    for (const id of [0, 1, 255, 65_536, 0xffffffff]) {
      const { schemaId, payload } = parseWire(encode(id, faceCropType, value));
      expect(schemaId).toBe(id);
      expect(faceCropType.fromBuffer(payload)).toEqual(value);
    }
  });

  it('parseWire should accept a header with an empty payload, leaving the body check to the decoder', () => {
    expect(parseWire(Buffer.from([0, 0, 0, 0, 7]))).toEqual({ schemaId: 7, payload: Buffer.alloc(0) });
  });

  it('parseWire should throw INPUT_NOT_WIRE_FORMAT for short, empty or missing buffers', () => {
    for (const buf of [null, undefined, Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 0, 0, 1])]) {
      expect(codeOf(() => parseWire(buf))).toBe('INPUT_NOT_WIRE_FORMAT');
    }
  });

  it('parseWire should throw INPUT_NOT_WIRE_FORMAT when the magic byte is not 0', () => {
    const good = encode(3, faceCropType, sampleFaceCrop());
    for (const magic of [1, 0x7b /* '{': a JSON message */, 0xff]) {
      const bad = Buffer.from(good);
      bad[0] = magic;
      expect(codeOf(() => parseWire(bad))).toBe('INPUT_NOT_WIRE_FORMAT');
    }
  });

  it('frame should refuse schema ids that do not fit 4 unsigned bytes', () => {
    for (const id of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(codeOf(() => frame(id, Buffer.alloc(1)))).toBe('INTERNAL');
    }
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkBounds } from '../../src/schemas/bounds.js';
import { deadLetterType, escalationRequestType, faceCropType, faceQualityType, parseSchema } from '../../src/schemas/index.js';
import { sampleDeadLetter, sampleEscalationRequest, sampleFaceCrop, sampleFaceQuality } from './fixtures/samples.js';

/** Avro zig-zag varint, as avsc writes it. */
function varint(n: number): number[] {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (z >= 128) {
    out.push((z % 128) | 0x80);
    z = Math.floor(z / 128);
  }
  out.push(z);
  return out;
}

const intArray = parseSchema({ type: 'array', items: 'int' });

describe('checkBounds', () => {
  it('checkBounds should accept the exact encoding of each sample record', () => {
    const cases = [
      [faceCropType, sampleFaceCrop()], [faceQualityType, sampleFaceQuality()],
      [deadLetterType, sampleDeadLetter()], [escalationRequestType, sampleEscalationRequest()],
    ] as const;
    for (const [type, value] of cases) expect(checkBounds(type, type.toBuffer(value)), type.name).toBeNull();
  });

  it('checkBounds should report trailing bytes and every truncation', () => {
    const buf = faceCropType.toBuffer(sampleFaceCrop());
    expect(checkBounds(faceCropType, Buffer.concat([buf, Buffer.from([0])]))).toMatch(/1 trailing bytes/);
    for (let len = 0; len < buf.length; len++) expect(checkBounds(faceCropType, buf.subarray(0, len)), `prefix ${len}`).not.toBeNull();
  });

  it('checkBounds should refuse an array count that cannot fit in the bytes left', () => {
    // landmarks = union branch 1, then a block of 2^31 - 1 points in a handful of bytes.
    const head = faceCropType.toBuffer({ ...sampleFaceCrop(), landmarks: null, detectorScore: null, bbox: null, metadata: {} });
    const landmarksAt = head.length - 4; // landmarks, detectorScore, bbox are 1-byte nulls, metadata 1 byte
    const hostile = Buffer.from([...head.subarray(0, landmarksAt), ...varint(1), ...varint(2 ** 31 - 1), 0, 0, 0, 0]);
    expect(checkBounds(faceCropType, hostile)).toMatch(/block of 2147483647 items cannot fit/);
  });

  it('checkBounds should accept negative block counts with a byte size, as other Avro writers emit them', () => {
    const blocked = Buffer.from([...varint(-3), ...varint(3), ...varint(1), ...varint(2), ...varint(3), 0]);
    expect(intArray.fromBuffer(blocked)).toEqual([1, 2, 3]);
    expect(checkBounds(intArray, blocked)).toBeNull();
  });

  it('checkBounds should cap counts of zero-byte items, which no buffer size bounds', () => {
    const nulls = parseSchema({ type: 'array', items: 'null' });
    expect(checkBounds(nulls, Buffer.from([...varint(1000), 0]))).toBeNull();
    expect(checkBounds(nulls, Buffer.from([...varint(2 ** 40), 0]))).toMatch(/cannot fit/);
  });

  it('checkBounds should refuse out-of-range union and enum indexes, negative lengths and overlong varints', () => {
    const union = parseSchema(['null', 'string']);
    expect(checkBounds(union, Buffer.from(varint(2)))).toMatch(/union index 2/);
    expect(checkBounds(union, Buffer.from(varint(-1)))).toMatch(/union index -1/);
    const en = parseSchema({ type: 'enum', name: 'E', symbols: ['A', 'B'] });
    expect(checkBounds(en, Buffer.from(varint(1)))).toBeNull();
    expect(checkBounds(en, Buffer.from(varint(2)))).toMatch(/enum index 2/);
    expect(checkBounds(parseSchema('"string"'), Buffer.from(varint(-5)))).toMatch(/negative length/);
    expect(checkBounds(parseSchema('"long"'), Buffer.alloc(11, 0xff))).toMatch(/longer than 10 bytes/);
    expect(checkBounds(parseSchema({ type: 'fixed', name: 'F', size: 4 }), Buffer.alloc(3))).toMatch(/runs past the end/);
  });

  it('checkBounds should refuse nesting deeper than 64 in recursive schemas', () => {
    const list = parseSchema({ type: 'record', name: 'Node', fields: [{ name: 'next', type: ['null', 'Node'] }] });
    const deep = (n: number) => Buffer.from([...Array(n).fill(2), 0]); // n times branch 1, then null
    expect(list.fromBuffer(deep(10))).toBeTruthy();
    expect(checkBounds(list, deep(10))).toBeNull();
    expect(checkBounds(list, deep(500))).toMatch(/nesting deeper than 64/);
  });

  it('checkBounds should only pass buffers that avsc then decodes (property)', () => {
    const valid = faceCropType.toBuffer(sampleFaceCrop());
    const mutated = fc.tuple(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(valid.length))
      .map(([edits, cut]) => {
        const buf = Buffer.from(valid);
        for (const [at, byte] of edits) buf[at] = byte;
        return buf.subarray(0, cut);
      });
    let passed = 0;
    fc.assert(fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a))), (buf) => {
      if (checkBounds(faceCropType, buf) !== null) return;
      passed++;
      try {
        faceCropType.fromBuffer(buf);
      } catch (err) {
        // The one thing the walk leaves to avsc: longs beyond 2^53.
        expect((err as Error).message).toBe('potential precision loss');
      }
    }), { numRuns: 2000 });
    // Not vacuous: some mutations keep the structure intact and reach avsc.
    expect(passed).toBeGreaterThan(0);
  });
});

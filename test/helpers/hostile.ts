/**
 * A corpus of hostile FaceCrop messages: broken, malicious or merely unusual inputs, each with the
 * outcome the gate owes it: a dead letter with a given reason code, or 'final' for inputs that are
 * odd but valid (CMYK, greyscale, 16-bit, EXIF-rotated, animated, odd headers and keys…) and must
 * be scored. Every kind is built from a real face (LFW bytes and landmarks) so that the one thing
 * wrong with it is the thing the kind is about.
 */
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { ErrorCode } from '../../src/plugin/core/errors.js';
import type { AvroCodec } from '../../src/schemas/codec.js';
import { faceCropType, type FaceCrop, type Point } from '../../src/schemas/index.js';
import { frame } from '../../src/schemas/wire.js';
import type { FaceSource } from './crops.js';

export type Expected = ErrorCode | 'final';

export interface HostileMessage {
  key: Buffer | string | null;
  value: Buffer | null;
  headers: Record<string, string | Buffer>;
}

export interface HostileContext {
  codec: AvroCodec;
  /** The input topic's value subject. */
  subject: string;
  face: FaceSource;
  /** The gate's kafka.maxMessageBytes and face.maxBytes, which oversized kinds must exceed. */
  maxMessageBytes: number;
  maxImageBytes: number;
}

export type Group = 'image' | 'format' | 'landmarks' | 'avro' | 'kafka' | 'valid';

export interface HostileKind {
  kind: string;
  group: Group;
  expected: Expected;
  /** What is wrong with it (or, for valid inputs, what is unusual), for the summary table. */
  what: string;
  make(ctx: HostileContext): Promise<HostileMessage>;
}

/** Header naming the kind of a hostile message, read back from the input topic. */
export const HOSTILE_HEADER = 'test-hostile-kind';

// ---- building blocks -----------------------------------------------------------------------------

const points = (l: FaceSource['landmarks']): Point[] => l.map(([x, y]) => ({ x, y }));

function baseCrop(ctx: HostileContext, over: Partial<FaceCrop> = {}): FaceCrop {
  return {
    cameraId: 'cam-hostile', frameId: 'hostile', trackId: null, captureTimestamp: 1_700_000_000_000,
    image: ctx.face.jpeg, imageFormat: 'JPEG', landmarks: points(ctx.face.landmarks),
    detectorScore: null, bbox: null, metadata: {}, ...over,
  };
}

async function encoded(ctx: HostileContext, over: Partial<FaceCrop> = {}, headers: Record<string, string | Buffer> = {}, key: Buffer | string | null = 'cam-hostile'): Promise<HostileMessage> {
  return { key, value: await ctx.codec.encode(ctx.subject, baseCrop(ctx, over)), headers };
}

/** A crop with other image bytes; landmarks kept when the picture still has the face where they say. */
const withImage = (image: Buffer, opts: { landmarks?: boolean; format?: FaceCrop['imageFormat'] } = {}) => (ctx: HostileContext) =>
  encoded(ctx, { image, imageFormat: opts.format ?? 'UNKNOWN', ...(opts.landmarks === false ? { landmarks: null } : {}) });

const faceImage = (ctx: HostileContext) => sharp(ctx.face.jpeg);

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ihdr(width: number, height: number, bitDepth: number, colourType: number): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d[8] = bitDepth;
  d[9] = colourType;
  return chunk('IHDR', d);
}

/**
 * A decompression bomb: a complete, valid 1-bit greyscale PNG of width × height whose all-zero
 * rows deflate ~1000:1 (30000×30000 → ~110 KB, 900 Mpx, 2.7 GB as RGB).
 */
function pngBomb(width: number, height: number): Buffer {
  const row = 1 + Math.ceil(width / 8);
  const idat = deflateSync(Buffer.alloc(row * height), { level: 9 });
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 1, 0), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** PNG chunks of an encoded PNG, in order. */
function pngChunks(png: Buffer): { type: string; data: Buffer }[] {
  const out: { type: string; data: Buffer }[] = [];
  for (let i = 8; i + 8 <= png.length;) {
    const len = png.readUInt32BE(i);
    out.push({ type: png.toString('latin1', i + 4, i + 8), data: png.subarray(i + 8, i + 8 + len) });
    i += 12 + len;
  }
  return out;
}

/** APNG of two frames: the face (the default image, what non-APNG decoders show) then grey. */
async function apng(ctx: HostileContext): Promise<Buffer> {
  const face = await faceImage(ctx).png().toBuffer();
  const { width = 0, height = 0 } = await sharp(face).metadata();
  const grey = await sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
  const fctl = (seq: number) => {
    const d = Buffer.alloc(26);
    d.writeUInt32BE(seq, 0);
    d.writeUInt32BE(width, 4);
    d.writeUInt32BE(height, 8);
    d.writeUInt16BE(1, 20); // delay 1/10 s
    d.writeUInt16BE(10, 22);
    return chunk('fcTL', d);
  };
  const actl = Buffer.alloc(8);
  actl.writeUInt32BE(2, 0);
  const chunks = pngChunks(face);
  const greyData = Buffer.concat(pngChunks(grey).filter((c) => c.type === 'IDAT').map((c) => c.data));
  const seq2 = Buffer.alloc(4);
  seq2.writeUInt32BE(2);
  return Buffer.concat([
    PNG_SIGNATURE,
    ...chunks.filter((c) => c.type === 'IHDR').map((c) => chunk(c.type, c.data)),
    chunk('acTL', actl), fctl(0),
    ...chunks.filter((c) => c.type === 'IDAT').map((c) => chunk(c.type, c.data)),
    fctl(1), chunk('fdAT', Buffer.concat([seq2, greyData])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** JPEG SOI and a baseline SOF0 segment for a width×height image, then nothing. */
function jpegHeaderOnly(width: number, height: number): Buffer {
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), sof]);
}

/** RIFF/WEBP with a VP8X header claiming width × height, and no image data. */
function webpHeaderOnly(width: number, height: number): Buffer {
  const vp8x = Buffer.alloc(10);
  vp8x.writeUIntLE(width - 1, 4, 3);
  vp8x.writeUIntLE(height - 1, 7, 3);
  const body = Buffer.concat([Buffer.from('WEBPVP8X', 'latin1'), Buffer.from([10, 0, 0, 0]), vp8x]);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(body.length);
  return Buffer.concat([Buffer.from('RIFF', 'latin1'), size, body]);
}

/** A 24-bit BMP of the face: a format the gate does not accept. */
async function bmp(ctx: HostileContext): Promise<Buffer> {
  const { data, info } = await faceImage(ctx).resize(64, 64).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rowBytes = Math.ceil((info.width * 3) / 4) * 4;
  const pixels = Buffer.alloc(rowBytes * info.height);
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const s = (y * info.width + x) * 3, d = (info.height - 1 - y) * rowBytes + x * 3;
      pixels[d] = data[s + 2]; pixels[d + 1] = data[s + 1]; pixels[d + 2] = data[s];
    }
  }
  const h = Buffer.alloc(54);
  h.write('BM', 0, 'latin1');
  h.writeUInt32LE(54 + pixels.length, 2);
  h.writeUInt32LE(54, 10);
  h.writeUInt32LE(40, 14);
  h.writeInt32LE(info.width, 18);
  h.writeInt32LE(info.height, 22);
  h.writeUInt16LE(1, 26);
  h.writeUInt16LE(24, 28);
  h.writeUInt32LE(pixels.length, 34);
  return Buffer.concat([h, pixels]);
}

/** A valid JPEG grown past `bytes` with COM segments (comments), which decoders skip. */
function paddedJpeg(jpeg: Buffer, bytes: number): Buffer {
  const segments: Buffer[] = [];
  let size = jpeg.length;
  while (size <= bytes) {
    const seg = Buffer.alloc(65_535 + 2, 0x20);
    seg[0] = 0xff; seg[1] = 0xfe; seg.writeUInt16BE(65_535, 2);
    segments.push(seg);
    size += seg.length;
  }
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

// ---- Avro bodies by hand, to break them in ways avsc would refuse to write -------------------------

/** Avro long: zig-zag, then base-128 varint. */
function long(n: bigint): Buffer {
  let z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  do {
    let b = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) b |= 0x80;
    out.push(b);
  } while (z > 0n);
  return Buffer.from(out);
}

const str = (s: string) => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([long(BigInt(b.length)), b]); };

/** The fields before `image`: cameraId, frameId, trackId (null), captureTimestamp. */
const head = () => Buffer.concat([str('cam-hostile'), str('hostile'), long(0n), long(1_700_000_000_000n)]);

/** A FaceCrop body without landmarks/score/bbox/metadata: its last four bytes are those four fields. */
function plainBody(ctx: HostileContext): Buffer {
  return faceCropType.toBuffer(baseCrop(ctx, { landmarks: null, metadata: {} }));
}

async function schemaId(ctx: HostileContext): Promise<number> {
  return (await encoded(ctx)).value!.readUInt32BE(1);
}

const wired = async (ctx: HostileContext, body: Buffer): Promise<HostileMessage> => ({ key: 'cam-hostile', value: frame(await schemaId(ctx), body), headers: {} });

/** Replaces the four trailing union/map bytes of a plain body with `tail`. */
const withTail = async (ctx: HostileContext, tail: Buffer) => {
  const body = plainBody(ctx);
  return wired(ctx, Buffer.concat([body.subarray(0, body.length - 4), tail]));
};

// ---- the corpus ----------------------------------------------------------------------------------

const lm = (ctx: HostileContext) => points(ctx.face.landmarks);

export const HOSTILE_KINDS: HostileKind[] = [
  // Image bytes that are broken or dangerous.
  { kind: 'image-zero-bytes', group: 'image', expected: 'INPUT_EMPTY_IMAGE', what: 'image field of 0 bytes', make: withImage(Buffer.alloc(0)) },
  { kind: 'jpeg-truncated', group: 'image', expected: 'INPUT_IMAGE_DECODE', what: 'first third of a JPEG', make: (ctx) => withImage(ctx.face.jpeg.subarray(0, Math.floor(ctx.face.jpeg.length / 3)))(ctx) },
  { kind: 'jpeg-header-only', group: 'image', expected: 'INPUT_IMAGE_DECODE', what: 'SOI + SOF0 of a 250×250 JPEG, no scan', make: withImage(jpegHeaderOnly(250, 250)) },
  { kind: 'jpeg-claims-65500x65500', group: 'image', expected: 'INPUT_IMAGE_TOO_MANY_PIXELS', what: 'JPEG header claiming 65500×65500 (4.3 Gpx)', make: withImage(jpegHeaderOnly(65_500, 65_500)) },
  { kind: 'jpeg-claims-0x0', group: 'image', expected: 'INPUT_IMAGE_TOO_SMALL', what: 'JPEG header claiming 0×0', make: withImage(jpegHeaderOnly(0, 0)) },
  { kind: 'png-bomb-30000x30000', group: 'image', expected: 'INPUT_IMAGE_TOO_MANY_PIXELS', what: 'complete 1-bit PNG, 900 Mpx deflated to ~110 KB', make: withImage(pngBomb(30_000, 30_000)) },
  { kind: 'png-header-100000x100000', group: 'image', expected: 'INPUT_IMAGE_TOO_MANY_PIXELS', what: 'PNG signature + IHDR of 10 Gpx, nothing else', make: withImage(Buffer.concat([PNG_SIGNATURE, ihdr(100_000, 100_000, 8, 2)])) },
  { kind: 'webp-claims-16384x16384', group: 'image', expected: 'INPUT_IMAGE_TOO_MANY_PIXELS', what: 'WebP VP8X header claiming 268 Mpx', make: withImage(webpHeaderOnly(16_384, 16_384)) },
  { kind: 'jpeg-1x1', group: 'image', expected: 'INPUT_IMAGE_TOO_SMALL', what: 'a valid 1×1 JPEG', make: async (ctx) => withImage(await faceImage(ctx).resize(1, 1).jpeg().toBuffer(), { landmarks: false })(ctx) },
  { kind: 'png-10000x1', group: 'image', expected: 'INPUT_IMAGE_TOO_SMALL', what: 'a valid 10000×1 PNG', make: async (ctx) => withImage(await faceImage(ctx).resize(10_000, 1, { fit: 'fill' }).png().toBuffer(), { landmarks: false })(ctx) },
  { kind: 'png-15x15', group: 'image', expected: 'INPUT_IMAGE_TOO_SMALL', what: 'one pixel under the 16 px minimum side', make: async (ctx) => withImage(await faceImage(ctx).resize(15, 15).png().toBuffer(), { landmarks: false })(ctx) },
  { kind: 'image-over-face-maxBytes', group: 'image', expected: 'INPUT_TOO_LARGE', what: 'valid JPEG padded with comments past face.maxBytes (message itself under its limit)', make: (ctx) => withImage(paddedJpeg(ctx.face.jpeg, ctx.maxImageBytes))(ctx) },
  { kind: 'webp-truncated', group: 'image', expected: 'INPUT_IMAGE_DECODE', what: 'first half of a WebP', make: async (ctx) => { const w = await faceImage(ctx).webp().toBuffer(); return withImage(w.subarray(0, w.length >> 1))(ctx); } },
  { kind: 'png-truncated', group: 'image', expected: 'INPUT_IMAGE_DECODE', what: 'first half of a PNG', make: async (ctx) => { const p = await faceImage(ctx).png().toBuffer(); return withImage(p.subarray(0, p.length >> 1))(ctx); } },
  { kind: 'png-signature-then-jpeg', group: 'image', expected: 'INPUT_IMAGE_DECODE', what: 'PNG signature followed by a JPEG', make: (ctx) => withImage(Buffer.concat([PNG_SIGNATURE, ctx.face.jpeg]))(ctx) },
  { kind: 'no-face-grey', group: 'image', expected: 'INPUT_NO_FACE', what: 'plain grey picture, no landmarks: the detector finds nothing', make: async (ctx) => withImage(await sharp({ create: { width: 250, height: 250, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg().toBuffer(), { landmarks: false })(ctx) },

  // Formats the gate does not take.
  { kind: 'text-as-image', group: 'format', expected: 'INPUT_IMAGE_FORMAT', what: 'plain text in the image field', make: withImage(Buffer.from('this is a text file, not an image\n')) },
  { kind: 'gif', group: 'format', expected: 'INPUT_IMAGE_FORMAT', what: 'the face as GIF', make: async (ctx) => withImage(await faceImage(ctx).gif().toBuffer())(ctx) },
  { kind: 'bmp', group: 'format', expected: 'INPUT_IMAGE_FORMAT', what: 'the face as 24-bit BMP', make: async (ctx) => withImage(await bmp(ctx))(ctx) },
  { kind: 'tiff', group: 'format', expected: 'INPUT_IMAGE_FORMAT', what: 'the face as TIFF', make: async (ctx) => withImage(await faceImage(ctx).tiff().toBuffer())(ctx) },
  { kind: 'avif', group: 'format', expected: 'INPUT_IMAGE_FORMAT', what: 'the face as AVIF', make: async (ctx) => withImage(await faceImage(ctx).avif({ effort: 0 }).toBuffer())(ctx) },
  { kind: 'svg', group: 'format', expected: 'INPUT_IMAGE_FORMAT', what: 'an SVG document', make: withImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="250" height="250"><circle cx="125" cy="125" r="100"/></svg>')) },
  { kind: 'pdf', group: 'format', expected: 'INPUT_IMAGE_FORMAT', what: 'a minimal PDF', make: withImage(Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n')) },
  { kind: 'random-bytes', group: 'format', expected: 'INPUT_IMAGE_FORMAT', what: '4 KB of seeded noise', make: withImage(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2_654_435_761 >>> 13) & 0xff))) },

  // Landmarks that cannot be used.
  { kind: 'landmarks-nan', group: 'landmarks', expected: 'INPUT_BAD_LANDMARKS', what: 'one coordinate NaN', make: (ctx) => encoded(ctx, { landmarks: lm(ctx).map((p, i) => (i === 2 ? { x: NaN, y: p.y } : p)) }) },
  { kind: 'landmarks-infinite', group: 'landmarks', expected: 'INPUT_BAD_LANDMARKS', what: 'one coordinate +Infinity', make: (ctx) => encoded(ctx, { landmarks: lm(ctx).map((p, i) => (i === 0 ? { x: p.x, y: Infinity } : p)) }) },
  { kind: 'landmarks-out-of-crop', group: 'landmarks', expected: 'INPUT_BAD_LANDMARKS', what: 'mouth corner at 3× the crop width', make: (ctx) => encoded(ctx, { landmarks: lm(ctx).map((p, i) => (i === 4 ? { x: 750, y: p.y } : p)) }) },
  { kind: 'landmarks-huge-negative', group: 'landmarks', expected: 'INPUT_BAD_LANDMARKS', what: 'all points at −1e30', make: (ctx) => encoded(ctx, { landmarks: lm(ctx).map(() => ({ x: -1e30, y: -1e30 })) }) },
  { kind: 'landmarks-3-points', group: 'landmarks', expected: 'INPUT_BAD_LANDMARKS', what: 'eyes and nose only', make: (ctx) => encoded(ctx, { landmarks: lm(ctx).slice(0, 3) }) },
  { kind: 'landmarks-empty', group: 'landmarks', expected: 'INPUT_BAD_LANDMARKS', what: 'an empty array (not null)', make: (ctx) => encoded(ctx, { landmarks: [] }) },
  { kind: 'landmarks-6-points', group: 'landmarks', expected: 'INPUT_BAD_LANDMARKS', what: 'a sixth point', make: (ctx) => encoded(ctx, { landmarks: [...lm(ctx), { x: 1, y: 1 }] }) },
  { kind: 'landmarks-coincident', group: 'landmarks', expected: 'INPUT_BAD_LANDMARKS', what: 'all five points equal (eyes 0 px apart)', make: (ctx) => encoded(ctx, { landmarks: lm(ctx).map(() => ({ x: 125, y: 125 })) }) },

  // Avro and wire format.
  { kind: 'value-null', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'tombstone: no value at all', make: async () => ({ key: 'cam-hostile', value: null, headers: {} }) },
  { kind: 'value-empty', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'value of 0 bytes', make: async () => ({ key: 'cam-hostile', value: Buffer.alloc(0), headers: {} }) },
  { kind: 'wire-3-bytes', group: 'avro', expected: 'INPUT_NOT_WIRE_FORMAT', what: 'shorter than the 5-byte wire header', make: async () => ({ key: 'cam-hostile', value: Buffer.from([0, 0, 0]), headers: {} }) },
  { kind: 'wire-json', group: 'avro', expected: 'INPUT_NOT_WIRE_FORMAT', what: 'a JSON document instead of Avro', make: async () => ({ key: 'cam-hostile', value: Buffer.from('{"cameraId":"cam-1","image":"..."}'), headers: {} }) },
  { kind: 'schema-id-unknown', group: 'avro', expected: 'INPUT_UNKNOWN_SCHEMA', what: 'valid body behind schema id 999999', make: async (ctx) => ({ key: 'cam-hostile', value: frame(999_999, plainBody(ctx)), headers: {} }) },
  { kind: 'schema-id-zero', group: 'avro', expected: 'INPUT_UNKNOWN_SCHEMA', what: 'valid body behind schema id 0', make: async (ctx) => ({ key: 'cam-hostile', value: frame(0, plainBody(ctx)), headers: {} }) },
  { kind: 'schema-id-of-deadletter', group: 'avro', expected: 'INPUT_UNKNOWN_SCHEMA', what: 'FaceCrop body behind the DeadLetter schema id (wrong record type)', make: async (ctx) => ({ key: 'cam-hostile', value: frame(3, plainBody(ctx)), headers: {} }) },
  { kind: 'wire-header-only', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'wire header of the right schema, empty body', make: async (ctx) => ({ key: 'cam-hostile', value: frame(await schemaId(ctx), Buffer.alloc(0)), headers: {} }) },
  { kind: 'avro-truncated', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'valid message cut in the middle of the image bytes', make: async (ctx) => { const v = (await encoded(ctx)).value!; return { key: 'cam-hostile', value: v.subarray(0, v.length >> 1), headers: {} }; } },
  { kind: 'avro-trailing-bytes', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'valid message plus 3 bytes', make: async (ctx) => ({ key: 'cam-hostile', value: Buffer.concat([(await encoded(ctx)).value!, Buffer.from('xyz')]), headers: {} }) },
  { kind: 'avro-array-count-2^40', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'landmarks array block count 2^40 (allocation bomb)', make: (ctx) => withTail(ctx, Buffer.concat([long(1n), long(2n ** 40n), Buffer.alloc(16)])) },
  { kind: 'avro-map-count-2^31', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'metadata map block count 2^31', make: (ctx) => withTail(ctx, Buffer.concat([long(0n), long(0n), long(0n), long(2n ** 31n), Buffer.alloc(16)])) },
  { kind: 'avro-bytes-length-2^40', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'image length field 2^40', make: (ctx) => wired(ctx, Buffer.concat([head(), long(2n ** 40n), Buffer.alloc(64)])) },
  { kind: 'avro-negative-length', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'image length field −5', make: (ctx) => wired(ctx, Buffer.concat([head(), long(-5n), Buffer.alloc(64)])) },
  { kind: 'avro-bad-union-index', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'landmarks union branch 7 of 2', make: (ctx) => withTail(ctx, Buffer.concat([long(7n), long(0n), long(0n), long(0n)])) },
  { kind: 'avro-bad-enum-index', group: 'avro', expected: 'INPUT_AVRO_DECODE', what: 'imageFormat symbol 99 of 4', make: (ctx) => wired(ctx, Buffer.concat([head(), long(BigInt(ctx.face.jpeg.length)), ctx.face.jpeg, long(99n), long(0n), long(0n), long(0n), long(0n)])) },
  { kind: 'message-oversized', group: 'avro', expected: 'INPUT_TOO_LARGE', what: 'valid message over kafka.maxMessageBytes (metadata padding)', make: (ctx) => encoded(ctx, { metadata: { padding: 'x'.repeat(ctx.maxMessageBytes + 1024) } }) },

  // Odd but valid: the gate must score these.
  { kind: 'cmyk-jpeg', group: 'valid', expected: 'final', what: 'CMYK JPEG', make: async (ctx) => withImage(await faceImage(ctx).toColourspace('cmyk').jpeg().toBuffer())(ctx) },
  { kind: 'greyscale-jpeg', group: 'valid', expected: 'final', what: 'single-channel JPEG', make: async (ctx) => withImage(await faceImage(ctx).greyscale().toColourspace('b-w').jpeg().toBuffer())(ctx) },
  { kind: 'png-16-bit', group: 'valid', expected: 'final', what: '16-bit RGB PNG', make: async (ctx) => withImage(await faceImage(ctx).toColourspace('rgb16').png().toBuffer())(ctx) },
  { kind: 'png-alpha', group: 'valid', expected: 'final', what: 'RGBA PNG, half-transparent', make: async (ctx) => withImage(await faceImage(ctx).ensureAlpha(0.5).png().toBuffer())(ctx) },
  { kind: 'png-palette', group: 'valid', expected: 'final', what: '8-bit palette PNG', make: async (ctx) => withImage(await faceImage(ctx).png({ palette: true }).toBuffer())(ctx) },
  { kind: 'webp-lossy', group: 'valid', expected: 'final', what: 'lossy WebP', make: async (ctx) => withImage(await faceImage(ctx).webp({ quality: 80 }).toBuffer())(ctx) },
  { kind: 'webp-animated', group: 'valid', expected: 'final', what: 'animated WebP, face first then grey', make: async (ctx) => {
    const grey = await faceImage(ctx).greyscale().linear(0, 128).toBuffer();
    return withImage(await sharp([await faceImage(ctx).toBuffer(), grey], { join: { animated: true } }).webp({ loop: 0, delay: [100, 100] }).toBuffer())(ctx);
  } },
  { kind: 'png-animated', group: 'valid', expected: 'final', what: 'APNG, face as default image then grey', make: async (ctx) => withImage(await apng(ctx))(ctx) },
  { kind: 'jpeg-exif-rotated', group: 'valid', expected: 'final', what: 'pixels stored rotated, EXIF orientation 6; landmarks as displayed', make: async (ctx) => withImage(await faceImage(ctx).rotate(270).withMetadata({ orientation: 6 }).jpeg().toBuffer())(ctx) },
  { kind: 'jpeg-progressive', group: 'valid', expected: 'final', what: 'progressive JPEG', make: async (ctx) => withImage(await faceImage(ctx).jpeg({ progressive: true }).toBuffer())(ctx) },
  { kind: 'jpeg-3000x3000', group: 'valid', expected: 'final', what: '9 Mpx upscaled face, landmarks scaled', make: async (ctx) => encoded(ctx, { image: await faceImage(ctx).resize(3000, 3000).jpeg({ quality: 70 }).toBuffer(), landmarks: lm(ctx).map((p) => ({ x: p.x * 12 + 5.5, y: p.y * 12 + 5.5 })) }) },
  { kind: 'format-field-lies', group: 'valid', expected: 'final', what: 'imageFormat says PNG, bytes are JPEG (the gate sniffs)', make: (ctx) => encoded(ctx, { imageFormat: 'PNG' }) },
  { kind: 'no-landmarks-real-face', group: 'valid', expected: 'final', what: 'no landmarks: the gate\'s detector finds the face', make: (ctx) => encoded(ctx, { landmarks: null }) },
  { kind: 'landmarks-collinear', group: 'valid', expected: 'final', what: 'five points on one line, eyes apart: alignment is defined (only finiteness, bounds and eye distance are checked)', make: (ctx) => encoded(ctx, { landmarks: [0, 1, 2, 3, 4].map((i) => ({ x: 80 + 20 * i, y: 120 })) }) },
  { kind: 'landmarks-just-outside', group: 'valid', expected: 'final', what: 'chin-cut crop: a point 2 px outside, within the 5 % tolerance', make: (ctx) => encoded(ctx, { landmarks: lm(ctx).map((p, i) => (i === 3 ? { x: p.x, y: 251 } : p)) }) },
  { kind: 'key-null', group: 'kafka', expected: 'final', what: 'record without key', make: (ctx) => encoded(ctx, {}, {}, null) },
  { kind: 'key-binary', group: 'kafka', expected: 'final', what: 'key of invalid UTF-8 bytes', make: (ctx) => encoded(ctx, {}, {}, Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28])) },
  { kind: 'headers-none', group: 'kafka', expected: 'final', what: 'no headers at all', make: (ctx) => encoded(ctx, {}, {}) },
  { kind: 'traceparent-malformed', group: 'kafka', expected: 'final', what: 'traceparent "00-zz-not-a-trace"', make: (ctx) => encoded(ctx, {}, { traceparent: '00-zz-not-a-trace', tracestate: '=,=' }) },
  { kind: 'headers-binary-junk', group: 'kafka', expected: 'final', what: '50 headers of binary junk, one of 8 KB', make: (ctx) => encoded(ctx, {}, Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`junk-${i}`, Buffer.alloc(i === 0 ? 8192 : 16, i)]))) },
  { kind: 'camera-id-empty', group: 'kafka', expected: 'final', what: 'empty cameraId and frameId', make: (ctx) => encoded(ctx, { cameraId: '', frameId: '' }) },
  { kind: 'ids-huge-unicode', group: 'kafka', expected: 'final', what: '10 KB frameId of emoji and RTL text, unicode trackId', make: (ctx) => encoded(ctx, { frameId: '🙂\u202eabc'.repeat(1500), trackId: 'трек-🙂' }) },
  { kind: 'metadata-1000-entries', group: 'kafka', expected: 'final', what: '1000 metadata entries', make: (ctx) => encoded(ctx, { metadata: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, `v${i}`])) }) },
  { kind: 'numbers-odd', group: 'kafka', expected: 'final', what: 'negative timestamp, NaN detector score, infinite bbox', make: (ctx) => encoded(ctx, { captureTimestamp: -1, detectorScore: NaN, bbox: { x: -Infinity, y: 0, width: Infinity, height: NaN } }) },
];

export interface HostileInput { kind: HostileKind; message: HostileMessage }

/**
 * `copies` messages of every kind, in kind order repeated (so kinds interleave across
 * partitions). Each carries its kind in HOSTILE_HEADER, except 'headers-none', which has none:
 * tests should find a message's kind from its position and use the header as a cross-check.
 */
export async function hostileCorpus(ctx: HostileContext, copies: number): Promise<HostileInput[]> {
  const built = await Promise.all(HOSTILE_KINDS.map(async (kind) => ({ kind, message: await kind.make(ctx) })));
  const out: HostileInput[] = [];
  for (let c = 0; c < copies; c++) {
    for (const { kind, message } of built) {
      const headers = kind.kind === 'headers-none' ? {} : { ...message.headers, [HOSTILE_HEADER]: kind.kind };
      out.push({ kind, message: { ...message, headers } });
    }
  }
  return out;
}

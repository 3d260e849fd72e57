/**
 * Format sniffing and image dimensions read straight from the container header, so that size limits
 * are enforced before any decoder sees the bytes (a 20000×20000 PNG header is rejected here even
 * when the rest of the file is missing, which libvips would report as a mere decode error).
 */

export type ImageFormat = 'jpeg' | 'png' | 'webp';

export interface ImageHeader {
  format: ImageFormat;
  /** Undefined when the header is too short or malformed to say: the decoder will then fail on it. */
  width?: number;
  height?: number;
  /**
   * JPEG only: the EXIF orientation libvips will apply (1 when there is no EXIF block), where the
   * header says so unambiguously; undefined otherwise (then only the decoder can tell).
   */
  orientation?: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (bytes.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[at + i] !== sig[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, at: number, text: string): boolean {
  if (bytes.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return 'webp';
  return undefined;
}

const be16 = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const be32 = (b: Uint8Array, i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const le16 = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const le24 = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const le32 = (b: Uint8Array, i: number) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;

function pngSize(b: Uint8Array): [number, number] | undefined {
  // IHDR must be the first chunk: signature(8) length(4) 'IHDR'(4) width(4) height(4).
  if (b.length < 24 || !ascii(b, 12, 'IHDR')) return undefined;
  return [be32(b, 16), be32(b, 20)];
}

/**
 * The orientation tag (0x0112) of an APP1 "Exif" payload's first IFD: 1 when the IFD has none,
 * undefined when the block is malformed or the tag is not one SHORT in 1–8.
 */
function exifOrientation(b: Uint8Array, start: number, end: number): number | undefined {
  const t = start + 6; // after "Exif\0\0": the TIFF header
  if (end - t < 8) return undefined;
  const little = b[t] === 0x49 && b[t + 1] === 0x49;
  if (!little && !(b[t] === 0x4d && b[t + 1] === 0x4d)) return undefined;
  const u16 = (i: number) => (little ? le16(b, i) : be16(b, i));
  const u32 = (i: number) => (little ? le32(b, i) : be32(b, i));
  if (u16(t + 2) !== 42) return undefined;
  const ifd = t + u32(t + 4);
  if (ifd + 2 > end) return undefined;
  const n = u16(ifd);
  if (ifd + 2 + n * 12 > end) return undefined;
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + k * 12;
    if (u16(e) !== 0x0112) continue;
    const value = u16(e + 8);
    return u16(e + 2) === 3 && u32(e + 4) === 1 && value >= 1 && value <= 8 ? value : undefined;
  }
  return 1;
}

/**
 * Walks the marker segments up to the first start-of-frame (stops at start-of-scan): the size, and
 * the EXIF orientation of the one APP1 Exif segment before it (two such segments: left unknown).
 */
function jpegHeader(b: Uint8Array): { size?: [number, number]; orientation?: number } {
  let i = 2;
  let orientation: number | undefined = 1;
  let exifSeen = false;
  while (i + 3 < b.length) {
    if (b[i] !== 0xff) return {};
    const marker = b[i + 1];
    if (marker === 0xff) { i++; continue; } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; } // no length
    if (marker === 0xda || marker === 0xd9) return {};
    const len = be16(b, i + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return i + 8 < b.length ? { size: [be16(b, i + 7), be16(b, i + 5)], orientation } : {};
    if (len < 2) return {};
    if (marker === 0xe1 && ascii(b, i + 4, 'Exif\0\0')) {
      orientation = exifSeen ? undefined : exifOrientation(b, i + 4, Math.min(b.length, i + 2 + len));
      exifSeen = true;
    }
    i += 2 + len;
  }
  return {};
}

function webpSize(b: Uint8Array): [number, number] | undefined {
  if (ascii(b, 12, 'VP8 ') && b.length >= 30) return [le16(b, 26) & 0x3fff, le16(b, 28) & 0x3fff];
  if (ascii(b, 12, 'VP8L') && b.length >= 25) {
    const bits = le32(b, 21);
    return [1 + (bits & 0x3fff), 1 + ((bits >>> 14) & 0x3fff)];
  }
  if (ascii(b, 12, 'VP8X') && b.length >= 30) return [1 + le24(b, 24), 1 + le24(b, 27)];
  return undefined;
}

/** Undefined when the bytes are not one of the accepted formats. */
export function readHeader(bytes: Uint8Array): ImageHeader | undefined {
  const format = sniffFormat(bytes);
  if (!format) return undefined;
  if (format === 'jpeg') {
    const { size, orientation } = jpegHeader(bytes);
    if (!size) return { format };
    return orientation === undefined ? { format, width: size[0], height: size[1] } : { format, width: size[0], height: size[1], orientation };
  }
  const size = format === 'png' ? pngSize(bytes) : webpSize(bytes);
  return size ? { format, width: size[0], height: size[1] } : { format };
}

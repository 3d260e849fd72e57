/** Shared test inputs for the face tests: paths into ../shared and hand-made image bytes. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DecodeLimits } from '../../../src/plugin/face/decode.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A path inside the shared data folder; throws (so the test fails, never skips) when it is missing. */
export function sharedPath(...parts: string[]): string {
  const root = process.env.DIFFIQA_SHARED ?? path.resolve(repoRoot, '../shared');
  const p = path.join(root, ...parts);
  if (!existsSync(p)) throw new Error(`shared test data missing: ${p} (set DIFFIQA_SHARED to the shared data folder)`);
  return p;
}

export function lfwBytes(name: string, n: number): Buffer {
  return readFileSync(sharedPath('data', 'lfw', name, `${name}_${String(n).padStart(4, '0')}.jpg`));
}

export const LIMITS: DecodeLimits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000, minSide: 16 };

export const DETECTOR = { modelId: 'retinaface-mnet025' } as const;

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** PNG signature and an IHDR chunk (8-bit RGB) and nothing else: a header promising a huge image. */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const body = Buffer.alloc(17);
  body.write('IHDR', 0, 'latin1');
  body.writeUInt32BE(width, 4);
  body.writeUInt32BE(height, 8);
  body[12] = 8; // bit depth
  body[13] = 2; // colour type RGB
  const len = Buffer.alloc(4);
  len.writeUInt32BE(13);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), len, body, crc]);
}

/** JPEG SOI and a baseline SOF0 segment for a width×height image, then nothing. */
export function jpegHeaderOnly(width: number, height: number): Buffer {
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), sof]);
}

/** Mean absolute difference of two equally long byte arrays. */
export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

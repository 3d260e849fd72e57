import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readHeader, sniffFormat } from '../../../src/plugin/face/header.js';
import { jpegHeaderOnly, lfwBytes, pngHeaderOnly } from './fixtures.js';

describe('readHeader', () => {
  it('readHeader should read the same size as libvips for JPEG, PNG and every WebP flavour', async () => {
    const base = () => sharp({ create: { width: 173, height: 91, channels: 4, background: { r: 9, g: 80, b: 200, alpha: 0.5 } } });
    const samples: [string, Buffer][] = [
      ['jpeg', lfwBytes('Aaron_Eckhart', 1)],
      ['jpeg', await base().jpeg({ progressive: true }).toBuffer()],
      ['jpeg', await base().jpeg().withMetadata({ orientation: 3 }).toBuffer()],
      ['png', await base().png().toBuffer()],
      ['webp', await base().removeAlpha().webp({ quality: 80 }).toBuffer()], // VP8
      ['webp', await base().webp({ lossless: true }).toBuffer()], // VP8L
      ['webp', await base().webp({ quality: 80 }).toBuffer()], // VP8X (alpha)
    ];
    for (const [format, bytes] of samples) {
      const meta = await sharp(bytes).metadata();
      expect(readHeader(bytes)).toEqual({ format, width: meta.width, height: meta.height });
    }
  });

  it('readHeader should read sizes from headers with no pixel data', () => {
    expect(readHeader(pngHeaderOnly(20000, 30000))).toEqual({ format: 'png', width: 20000, height: 30000 });
    expect(readHeader(jpegHeaderOnly(4000, 3000))).toEqual({ format: 'jpeg', width: 4000, height: 3000 });
  });

  it('readHeader should leave the size unknown when the header is cut short', () => {
    expect(readHeader(pngHeaderOnly(10, 10).subarray(0, 20))).toEqual({ format: 'png' });
    expect(readHeader(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00]))).toEqual({ format: 'jpeg' });
  });

  it('sniffFormat should accept only JPEG, PNG and WebP magic bytes', async () => {
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).gif().toBuffer();
    const tiff = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).tiff().toBuffer();
    expect(sniffFormat(gif)).toBeUndefined();
    expect(sniffFormat(tiff)).toBeUndefined();
    expect(sniffFormat(Buffer.from('RIFF\0\0\0\0WAVEfmt '))).toBeUndefined();
    expect(sniffFormat(Buffer.from('hello'))).toBeUndefined();
    expect(sniffFormat(new Uint8Array(0))).toBeUndefined();
  });
});

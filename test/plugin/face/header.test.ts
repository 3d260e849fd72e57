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
      const orientation = format === 'jpeg' ? { orientation: meta.orientation ?? 1 } : {};
      expect(readHeader(bytes)).toEqual({ format, width: meta.width, height: meta.height, ...orientation });
    }
  });

  it('readHeader should read the EXIF orientation libvips reads, in either byte order, and leave odd blocks unknown', async () => {
    const plain = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#123456' } }).jpeg().toBuffer();
    for (let o = 1; o <= 8; o++) {
      const bytes = await sharp(plain).withMetadata({ orientation: o }).jpeg().toBuffer();
      expect((await sharp(bytes).metadata()).orientation).toBe(o);
      expect(readHeader(bytes)?.orientation).toBe(o);
    }
    // Hand-made APP1 blocks after SOI: big-endian with orientation 6; a second Exif block; a SHORT out of range; a cut IFD.
    const app1 = (tiff: number[]) => {
      const body = [...Buffer.from('Exif\0\0', 'latin1'), ...tiff];
      return Buffer.from([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body]);
    };
    const mm = (tag: number, type: number, count: number, value: number) => [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, tag >> 8, tag & 0xff, 0, type, 0, 0, 0, count, value >> 8, value & 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
    const withApp1 = (...blocks: Buffer[]) => Buffer.concat([plain.subarray(0, 2), ...blocks, plain.subarray(2)]);
    expect(readHeader(withApp1(app1(mm(0x0112, 3, 1, 6))))?.orientation).toBe(6);
    expect(readHeader(withApp1(app1(mm(0x0110, 2, 1, 0))))?.orientation).toBe(1);
    expect(readHeader(withApp1(app1(mm(0x0112, 3, 1, 6)), app1(mm(0x0112, 3, 1, 3))))?.orientation).toBeUndefined();
    expect(readHeader(withApp1(app1(mm(0x0112, 3, 1, 9))))?.orientation).toBeUndefined();
    expect(readHeader(withApp1(app1(mm(0x0112, 4, 1, 6))))?.orientation).toBeUndefined();
    expect(readHeader(withApp1(app1(mm(0x0112, 3, 1, 6).slice(0, 14))))?.orientation).toBeUndefined();
    expect(readHeader(withApp1(app1(mm(0x0112, 3, 1, 6))))).toMatchObject({ width: 40, height: 30 });
  });

  it('readHeader should read sizes from headers with no pixel data', () => {
    expect(readHeader(pngHeaderOnly(20000, 30000))).toEqual({ format: 'png', width: 20000, height: 30000 });
    expect(readHeader(jpegHeaderOnly(4000, 3000))).toEqual({ format: 'jpeg', width: 4000, height: 3000, orientation: 1 });
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

import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { GateError, type ErrorCode } from '../../../src/plugin/core/errors.js';
import { decodeImage } from '../../../src/plugin/face/decode.js';
import { jpegHeaderOnly, LIMITS, lfwBytes, meanAbsDiff, pngHeaderOnly } from './fixtures.js';

async function codeOf(p: Promise<unknown>): Promise<ErrorCode> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GateError);
    return (err as GateError).code;
  }
  throw new Error('expected a rejection');
}

describe('decodeImage', () => {
  it('decodeImage should decode JPEG, PNG and WebP into the same RGB pixels', async () => {
    const jpeg = lfwBytes('Aaron_Eckhart', 1);
    const fromJpeg = await decodeImage(jpeg, LIMITS);
    expect([fromJpeg.width, fromJpeg.height, fromJpeg.data.length]).toEqual([250, 250, 250 * 250 * 3]);

    const raw = { raw: { width: 250, height: 250, channels: 3 as const } };
    const png = await sharp(fromJpeg.data, raw).png().toBuffer();
    const webp = await sharp(fromJpeg.data, raw).webp({ lossless: true }).toBuffer();
    expect((await decodeImage(png, LIMITS)).data.equals(fromJpeg.data)).toBe(true);
    expect((await decodeImage(webp, LIMITS)).data.equals(fromJpeg.data)).toBe(true);
    const lossy = await decodeImage(await sharp(fromJpeg.data, raw).webp({ quality: 90 }).toBuffer(), LIMITS);
    expect(meanAbsDiff(lossy.data, fromJpeg.data)).toBeLessThan(4);
  });

  it('decodeImage should apply EXIF orientation so a rotated JPEG decodes upright', async () => {
    const upright = await decodeImage(lfwBytes('Aaron_Eckhart', 1), LIMITS);
    const raw = { raw: { width: 250, height: 250, channels: 3 as const } };
    // Store the pixels turned a quarter left and say so in EXIF (orientation 6 = rotate 90° right to view).
    const stored = await sharp(upright.data, raw).rotate(270).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(stored).metadata()).orientation).toBe(6);
    const decoded = await decodeImage(stored, LIMITS);
    expect(meanAbsDiff(decoded.data, upright.data)).toBeLessThan(3);

    // Non-square: a 90×60 image with orientation 6 must come out 60×90.
    const wide = await sharp({ create: { width: 90, height: 60, channels: 3, background: '#808080' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const turned = await decodeImage(wide, LIMITS);
    expect([turned.width, turned.height]).toEqual([60, 90]);
  });

  it('decodeImage should keep just the asked window of the upright image, EXIF-turned ones included', async () => {
    // A non-square image with distinct pixels, stored turned and tagged orientation 6 (PNG keeps them exact).
    const [w, h] = [90, 60];
    const upright = Buffer.alloc(w * h * 3);
    for (let i = 0; i < upright.length; i++) upright[i] = (i * 7919) % 251;
    const raw = { raw: { width: w, height: h, channels: 3 as const } };
    const plain = await sharp(upright, raw).png().toBuffer();
    const turned = await sharp(await sharp(upright, raw).rotate(270).png().toBuffer()).withMetadata({ orientation: 6 }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
    for (const bytes of [plain, turned]) {
      const full = await decodeImage(bytes, LIMITS);
      expect([full.width, full.height]).toEqual([w, h]);
      const seen: number[][] = [];
      const win = { x: 13, y: 7, width: 41, height: 29 };
      const part = await decodeImage(bytes, LIMITS, { window: (ww, hh) => { seen.push([ww, hh]); return win; } });
      expect(seen).toEqual([[w, h]]);
      expect([part.width, part.height, part.window]).toEqual([w, h, win]);
      const want = Buffer.alloc(win.width * win.height * 3);
      for (let y = 0; y < win.height; y++) full.data.copy(want, y * win.width * 3, ((win.y + y) * w + win.x) * 3, ((win.y + y) * w + win.x + win.width) * 3);
      expect(part.data.equals(want)).toBe(true);
      expect((await decodeImage(bytes, LIMITS, { window: () => undefined })).data.equals(full.data)).toBe(true);
    }
  });

  it('decodeImage should decode JPEGs of every EXIF orientation as libvips turns them upright, window or not', async () => {
    const [w, h] = [48, 36];
    const px = Buffer.alloc(w * h * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 7919) % 251;
    const stored = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
    for (let o = 1; o <= 8; o++) {
      const bytes = await sharp(stored).withMetadata({ orientation: o }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
      const want = await sharp(bytes).rotate().raw().toBuffer({ resolveWithObject: true });
      const got = await decodeImage(bytes, LIMITS);
      expect([got.width, got.height], `orientation ${o}`).toEqual([want.info.width, want.info.height]);
      expect(got.data.equals(want.data), `orientation ${o}`).toBe(true);
      const win = { x: 3, y: 5, width: 20, height: 17 };
      const part = await decodeImage(bytes, LIMITS, { window: () => win });
      const rows = Buffer.alloc(win.width * win.height * 3);
      for (let y = 0; y < win.height; y++) got.data.copy(rows, y * win.width * 3, ((win.y + y) * got.width + win.x) * 3, ((win.y + y) * got.width + win.x + win.width) * 3);
      expect(part.data.equals(rows), `orientation ${o}, window`).toBe(true);
    }
  });

  it('decodeImage should flatten alpha and convert greyscale, CMYK and 16-bit images to 8-bit RGB', async () => {
    const create = (channels: 3 | 4, background: sharp.Color) => sharp({ create: { width: 40, height: 30, channels, background } });
    const cases: [string, Buffer, [number, number, number], number][] = [
      ['rgba png', await create(4, { r: 200, g: 100, b: 50, alpha: 0 }).png().toBuffer(), [0, 0, 0], 0],
      ['opaque rgba png', await create(4, { r: 200, g: 100, b: 50, alpha: 1 }).png().toBuffer(), [200, 100, 50], 0],
      ['grey png', await create(3, { r: 90, g: 90, b: 90 }).toColourspace('b-w').png().toBuffer(), [90, 90, 90], 0],
      ['grey16 png', await create(3, { r: 90, g: 90, b: 90 }).toColourspace('grey16').png().toBuffer(), [90, 90, 90], 1],
      ['rgb16 png', await create(3, { r: 200, g: 100, b: 50 }).toColourspace('rgb16').png().toBuffer(), [200, 100, 50], 1],
      ['cmyk jpeg', await create(3, { r: 200, g: 100, b: 50 }).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer(), [200, 100, 50], 20], // ICC round trip: close, not exact
    ];
    for (const [label, bytes, rgb, tolerance] of cases) {
      const img = await decodeImage(bytes, LIMITS);
      expect(img.data.length, label).toBe(40 * 30 * 3);
      const mid = (15 * 40 + 20) * 3;
      for (let c = 0; c < 3; c++) expect(Math.abs(img.data[mid + c] - rgb[c]), `${label} channel ${c}`).toBeLessThanOrEqual(tolerance);
    }
    expect((await sharp(cases[5][1]).metadata()).space).toBe('cmyk');
  });

  it('decodeImage should take the first frame of an animated WebP', async () => {
    const frame = (background: string) => sharp({ create: { width: 32, height: 32, channels: 3, background } }).png().toBuffer();
    const animated = await sharp([await frame('#ff0000'), await frame('#0000ff')], { join: { animated: true } })
      .webp({ loop: 0, delay: [100, 100], lossless: true })
      .toBuffer();
    expect((await sharp(animated).metadata()).pages).toBe(2);
    const img = await decodeImage(animated, LIMITS);
    expect([img.width, img.height]).toEqual([32, 32]);
    expect([...img.data.subarray(0, 3)]).toEqual([255, 0, 0]);
  });

  it('decodeImage should give each bad input its own error code', async () => {
    const jpeg = lfwBytes('Aaron_Eckhart', 1);
    const tiny = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).png().toBuffer();
    const gif = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#000' } }).gif().toBuffer();
    expect(await codeOf(decodeImage(Buffer.alloc(0), LIMITS))).toBe('INPUT_EMPTY_IMAGE');
    expect(await codeOf(decodeImage(jpeg, { ...LIMITS, maxBytes: jpeg.length - 1 }))).toBe('INPUT_TOO_LARGE');
    expect(await codeOf(decodeImage(Buffer.from('this is a text file, not a picture\n'), LIMITS))).toBe('INPUT_IMAGE_FORMAT');
    expect(await codeOf(decodeImage(gif, LIMITS))).toBe('INPUT_IMAGE_FORMAT');
    expect(await codeOf(decodeImage(jpeg.subarray(0, jpeg.length >> 1), LIMITS))).toBe('INPUT_IMAGE_DECODE');
    expect(await codeOf(decodeImage(jpeg.subarray(0, 20), LIMITS))).toBe('INPUT_IMAGE_DECODE');
    expect(await codeOf(decodeImage(tiny, LIMITS))).toBe('INPUT_IMAGE_TOO_SMALL');
  });

  it('decodeImage should reject huge headers by the pixel limit without allocating their pixels', async () => {
    const before = process.memoryUsage().rss;
    for (const bytes of [pngHeaderOnly(20000, 20000), jpegHeaderOnly(20000, 20000)]) {
      expect(await codeOf(decodeImage(bytes, LIMITS))).toBe('INPUT_IMAGE_TOO_MANY_PIXELS');
    }
    // 20000² RGB would be 1.2 GB; anything near that means the header was decoded.
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('decodeImage should reject a complete image over the pixel limit', async () => {
    const big = await sharp({ create: { width: 2000, height: 1500, channels: 3, background: '#456' } }).png().toBuffer();
    expect(await codeOf(decodeImage(big, { ...LIMITS, maxPixels: 2000 * 1500 - 1 }))).toBe('INPUT_IMAGE_TOO_MANY_PIXELS');
    expect((await decodeImage(big, { ...LIMITS, maxPixels: 2000 * 1500 })).width).toBe(2000);
  });
});

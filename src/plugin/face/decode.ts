import sharp from 'sharp';
import { GateError } from '../core/errors.js';
import type { Rect, RgbImage } from '../core/frame.js';
import { readHeader, type ImageHeader } from './header.js';

export interface DecodeLimits {
  /** Largest accepted encoded size, bytes. */
  maxBytes: number;
  /** Largest accepted width × height, checked from the header before decoding. */
  maxPixels: number;
  /** Smallest accepted width or height, px. */
  minSide: number;
}

function checkSize(width: number, height: number, limits: DecodeLimits): void {
  if (width * height > limits.maxPixels) {
    throw new GateError('INPUT_IMAGE_TOO_MANY_PIXELS', `image is ${width}x${height}, over ${limits.maxPixels} pixels`, {
      details: { width, height, maxPixels: limits.maxPixels },
    });
  }
  if (Math.min(width, height) < limits.minSide) {
    throw new GateError('INPUT_IMAGE_TOO_SMALL', `image is ${width}x${height}, a side is under ${limits.minSide} px`, {
      details: { width, height, minSide: limits.minSide },
    });
  }
}

export interface DecodeOptions {
  /**
   * The rectangle of the upright width×height image to keep (undefined: all of it). A face in a
   * 250×250 crop needs ~110×110 of it: the decoded buffer was the gate's largest allocation per
   * frame (188 KB), and keeping only the window cut the scavenges V8 ran for buffer memory 20 → 5
   * in 10 s at saturation and ~0.1 CPU ms a frame (BENCHMARKS.md, 2026-12-06).
   */
  window?: (width: number, height: number) => Rect | undefined;
}

/**
 * Size and EXIF orientation of the stored image. A JPEG whose header gave both (nearly every camera
 * crop) is not read again: libvips's metadata() would repeat it at ~0.15 CPU ms an image, an eighth
 * of the decode. Other images are asked of libvips, which must agree with the header on the format.
 */
async function storedGeometry(img: sharp.Sharp, header: ImageHeader, limits: DecodeLimits): Promise<{ width: number; height: number; orientation: number }> {
  if (header.format === 'jpeg' && header.width !== undefined && header.height !== undefined && header.orientation !== undefined) {
    return { width: header.width, height: header.height, orientation: header.orientation };
  }
  const meta = await img.metadata();
  if (meta.format !== header.format) {
    throw new GateError('INPUT_IMAGE_FORMAT', `image content is ${meta.format}, header says ${header.format}`);
  }
  checkSize(meta.width ?? 0, meta.height ?? 0, limits);
  return { width: meta.width ?? 0, height: meta.height ?? 0, orientation: meta.orientation ?? 1 };
}

/**
 * Decodes JPEG, PNG or WebP bytes into upright 8-bit sRGB RGB (EXIF orientation applied, alpha
 * flattened onto black, greyscale/CMYK/16-bit converted, first frame of an animation).
 * Every failure is a coded GateError; limits are checked before any pixel is allocated.
 */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits, opts: DecodeOptions = {}): Promise<RgbImage> {
  if (bytes.length === 0) throw new GateError('INPUT_EMPTY_IMAGE', 'image is empty');
  if (bytes.length > limits.maxBytes) {
    throw new GateError('INPUT_TOO_LARGE', `image is ${bytes.length} bytes, over ${limits.maxBytes}`, {
      details: { bytes: bytes.length, maxBytes: limits.maxBytes },
    });
  }
  const header = readHeader(bytes);
  if (!header) throw new GateError('INPUT_IMAGE_FORMAT', 'image is not JPEG, PNG or WebP');
  if (header.width !== undefined && header.height !== undefined) checkSize(header.width, header.height, limits);

  try {
    // limitInputPixels is the second line of defence should our header reading and libvips disagree.
    const img = sharp(bytes, { limitInputPixels: limits.maxPixels, sequentialRead: true, failOn: 'error' });
    const stored = await storedGeometry(img, header, limits);
    // EXIF orientations 5–8 turn the image a quarter: the upright image is height × width.
    const turned = stored.orientation >= 5;
    const [width, height] = turned ? [stored.height, stored.width] : [stored.width, stored.height];
    const window = opts.window?.(width, height);
    // extract after rotate() cuts the upright image.
    const upright = img.rotate();
    if (window) upright.extract({ left: window.x, top: window.y, width: window.width, height: window.height });
    const { data, info } = await upright
      .flatten()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new GateError('INPUT_IMAGE_DECODE', `decoded to ${info.channels} channels, expected 3`);
    const want = window ?? { width, height };
    if (info.width !== want.width || info.height !== want.height) {
      throw new GateError('INPUT_IMAGE_DECODE', `decoded ${info.width}x${info.height}, the header says ${want.width}x${want.height}`);
    }
    return window ? { width, height, window, data } : { width, height, data };
  } catch (err) {
    if (err instanceof GateError) throw err;
    throw new GateError('INPUT_IMAGE_DECODE', `cannot decode ${header.format}: ${(err as Error).message}`, { cause: err });
  }
}

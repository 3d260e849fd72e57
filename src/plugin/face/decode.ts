import sharp from 'sharp';
import { GateError } from '../core/errors.js';
import type { RgbImage } from '../core/frame.js';
import { readHeader } from './header.js';

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

/**
 * Decodes JPEG, PNG or WebP bytes into upright 8-bit sRGB RGB (EXIF orientation applied, alpha
 * flattened onto black, greyscale/CMYK/16-bit converted, first frame of an animation).
 * Every failure is a coded GateError; limits are checked before any pixel is allocated.
 */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<RgbImage> {
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
    const meta = await img.metadata();
    if (meta.format !== header.format) {
      throw new GateError('INPUT_IMAGE_FORMAT', `image content is ${meta.format}, header says ${header.format}`);
    }
    checkSize(meta.width ?? 0, meta.height ?? 0, limits);
    const { data, info } = await img
      .rotate()
      .flatten()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new GateError('INPUT_IMAGE_DECODE', `decoded to ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, data };
  } catch (err) {
    if (err instanceof GateError) throw err;
    throw new GateError('INPUT_IMAGE_DECODE', `cannot decode ${header.format}: ${(err as Error).message}`, { cause: err });
  }
}

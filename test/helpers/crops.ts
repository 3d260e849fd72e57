/**
 * FaceCrop messages for integrity tests: real LFW faces (landmarks found once by the project's
 * detector and cached, so the gate itself never needs the slow detector for good crops) and
 * broken inputs of several kinds, each with the DLQ reason code the gate owes it.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { ErrorCode } from '../../src/plugin/core/errors.js';
import type { Landmarks5 } from '../../src/plugin/core/frame.js';
import { decodeImage } from '../../src/plugin/face/decode.js';
import { detectFace } from '../../src/plugin/face/detect.js';
import { ModelRuntime } from '../../src/plugin/scorers/runtime.js';
import type { AvroCodec } from '../../src/schemas/codec.js';
import { faceCropType, type FaceCrop } from '../../src/schemas/index.js';
import { valueSubject } from '../../src/schemas/registry.js';
import { frame } from '../../src/schemas/wire.js';
import { sharedPath } from './shared.js';

export const BAD_KINDS = ['truncated-jpeg', 'not-an-image', 'garbage-avro', 'unknown-schema', 'oversized', 'no-face', 'not-wire-format'] as const;
export type BadKind = (typeof BAD_KINDS)[number];

/** What the gate must say about each kind of broken input. */
export const EXPECTED_REASON: Record<BadKind, ErrorCode> = {
  'truncated-jpeg': 'INPUT_IMAGE_DECODE',
  'not-an-image': 'INPUT_IMAGE_FORMAT',
  'garbage-avro': 'INPUT_AVRO_DECODE',
  'unknown-schema': 'INPUT_UNKNOWN_SCHEMA',
  oversized: 'INPUT_TOO_LARGE',
  'no-face': 'INPUT_NO_FACE',
  'not-wire-format': 'INPUT_NOT_WIRE_FORMAT',
};

/** Header naming how a test message was made ('good' or a BadKind), read back from the input topic. */
export const KIND_HEADER = 'test-kind';

export interface FaceSource { file: string; jpeg: Buffer; landmarks: Landmarks5 }

export interface CropMessage {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  kind: BadKind | 'good';
  cameraId: string;
  frameId: string;
}

function lfwDir(): string {
  const dir = sharedPath('data', 'lfw');
  if (!existsSync(dir)) throw new Error(`LFW not found at ${dir}: these tests need ../shared/data/lfw`);
  return dir;
}

/** `count` LFW images spread over identities (first image of every k-th person), sorted, deterministic. */
async function pickLfwFiles(count: number): Promise<string[]> {
  const dir = lfwDir();
  const people = (await readdir(dir)).sort();
  const step = Math.max(1, Math.floor(people.length / count));
  const files: string[] = [];
  for (let i = 0; files.length < count && i < people.length; i += step) {
    const own = (await readdir(path.join(dir, people[i]))).filter((n) => n.endsWith('.jpg')).sort();
    if (own.length) files.push(path.join(people[i], own[0]));
  }
  return files;
}

/**
 * LFW faces with their 5 landmarks, found once with the project's detector and cached in
 * `cacheFile` (JSON of file + landmarks; the JPEG bytes are re-read from ../shared).
 */
export async function loadFaceSources(opts: { count: number; cacheFile: string; mirrorDir: string; modelCacheDir: string }): Promise<FaceSource[]> {
  const dir = lfwDir();
  if (existsSync(opts.cacheFile)) {
    const cached = JSON.parse(await readFile(opts.cacheFile, 'utf8')) as { file: string; landmarks: Landmarks5 }[];
    if (cached.length >= opts.count) {
      return Promise.all(cached.slice(0, opts.count).map(async (c) => ({ ...c, jpeg: await readFile(path.join(dir, c.file)) })));
    }
  }
  const rt = new ModelRuntime({ mirrorDir: opts.mirrorDir, cacheDir: opts.modelCacheDir, allowDownload: false, workers: 1, intraOpThreads: 2 });
  try {
    const { entry } = await rt.load('retinaface-mnet025');
    const infer = async (modelId: string, inputs: Record<string, { data: Float32Array; dims: number[] }>) => {
      const out = await rt.run(modelId, Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { type: 'float32' as const, data: t.data, dims: t.dims }])));
      return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]));
    };
    const sources: FaceSource[] = [];
    // A few spare files: a photo whose subject is not found clearly is skipped, not fatal.
    for (const file of await pickLfwFiles(Math.ceil(opts.count * 1.2))) {
      if (sources.length === opts.count) break;
      const jpeg = await readFile(path.join(dir, file));
      const img = await decodeImage(jpeg, { maxBytes: 4_000_000, maxPixels: 16_000_000, minSide: 16 });
      const face = await detectFace(img, infer, { modelId: entry.id, inputName: entry.input.name, norm: entry.normalisation, colorOrder: entry.input.colorOrder, scoreThreshold: 0.8 }).catch(() => undefined);
      if (face) sources.push({ file, jpeg, landmarks: face.landmarks });
    }
    if (sources.length < opts.count) throw new Error(`only ${sources.length} of ${opts.count} LFW images had a clear face`);
    // Write then rename: a reader never sees half a file.
    const tmp = `${opts.cacheFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(sources.map(({ file, landmarks }) => ({ file, landmarks }))));
    await rename(tmp, opts.cacheFile);
    return sources;
  } finally {
    await rt.close();
  }
}

/** Builds wire-format FaceCrop values on `topic`'s subject, good and broken. */
export class CropFactory {
  readonly #codec: AvroCodec;
  readonly #subject: string;
  readonly #sources: FaceSource[];
  readonly #maxMessageBytes: number;
  readonly #cameras: number;
  readonly #landmarks: boolean;
  #grey?: Buffer;

  /**
   * `maxMessageBytes`: the gate's kafka.maxMessageBytes, which an oversized message must exceed.
   * `landmarks` false: good crops come without landmarks, so the gate's detector finds them.
   */
  constructor(codec: AvroCodec, topic: string, sources: FaceSource[], opts: { maxMessageBytes: number; cameras?: number; landmarks?: boolean }) {
    if (sources.length === 0) throw new Error('CropFactory needs at least one face source');
    this.#codec = codec;
    this.#subject = valueSubject(topic);
    this.#sources = sources;
    this.#maxMessageBytes = opts.maxMessageBytes;
    this.#cameras = opts.cameras ?? 5;
    this.#landmarks = opts.landmarks ?? true;
  }

  /** Message number `n` of a run named `run`: camera and frame ids follow from them. */
  async make(run: string, n: number, kind: BadKind | 'good'): Promise<CropMessage> {
    const src = this.#sources[n % this.#sources.length];
    const cameraId = `cam-${(n % this.#cameras) + 1}`;
    const frameId = `${run}-${n}`;
    const crop: FaceCrop = {
      cameraId, frameId, trackId: null, captureTimestamp: Date.now(),
      image: src.jpeg, imageFormat: 'JPEG', landmarks: this.#landmarks ? src.landmarks.map(([x, y]) => ({ x, y })) : null,
      detectorScore: null, bbox: null, metadata: { source: src.file },
    };
    let value: Buffer | undefined;
    switch (kind) {
      case 'truncated-jpeg': crop.image = src.jpeg.subarray(0, Math.floor(src.jpeg.length / 3)); break;
      case 'not-an-image': crop.image = Buffer.from('this is a text file, not an image'); crop.imageFormat = 'UNKNOWN'; break;
      case 'no-face': crop.image = await this.#greyJpeg(); crop.landmarks = null; break;
      // Padding in metadata keeps the message valid Avro: only its size is wrong.
      case 'oversized': crop.metadata.padding = 'x'.repeat(this.#maxMessageBytes + 1024); break;
      case 'unknown-schema': value = frame(999_999, faceCropType.toBuffer(crop)); break;
      case 'not-wire-format': value = Buffer.concat([Buffer.from([0x7b]), faceCropType.toBuffer(crop)]); break;
      default: break;
    }
    value ??= await this.#codec.encode(this.#subject, crop);
    if (kind === 'garbage-avro') value = Buffer.concat([value.subarray(0, 5), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from('garbage after a valid header')]);
    return { key: cameraId, value, headers: { [KIND_HEADER]: kind }, kind, cameraId, frameId };
  }

  /**
   * `count` messages, `badCount` of them broken: kinds in rotation, at positions spread evenly
   * through the stream so every partition and chunk sees some.
   */
  async stream(run: string, count: number, badCount: number): Promise<CropMessage[]> {
    const badAt = new Map<number, BadKind>();
    for (let b = 0; b < badCount; b++) badAt.set(Math.floor(((b + 0.5) * count) / badCount), BAD_KINDS[b % BAD_KINDS.length]);
    const out: CropMessage[] = [];
    for (let n = 0; n < count; n++) out.push(await this.make(run, n, badAt.get(n) ?? 'good'));
    return out;
  }

  async #greyJpeg(): Promise<Buffer> {
    this.#grey ??= await sharp({ create: { width: 250, height: 250, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg({ quality: 90 }).toBuffer();
    return this.#grey;
  }
}

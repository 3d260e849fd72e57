import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

/**
 * The gate's Avro schemas, read from the `.avsc` files that are the source of truth.
 * The files live in `src/schemas/` only (tsc does not copy them), so they are found from the repo
 * root, which works both under vitest (`src/schemas`) and after the build (`dist/src/schemas`).
 */

export const SCHEMA_NAMESPACE = 'io.diffiqa.gate';

/** Options every schema is parsed with; `[null, X]` unions map to `X | null`. A function because
 *  avsc stores its name registry in the options object it is given. */
export function typeOptions(): Partial<avro.ForSchemaOptions> {
  return { wrapUnions: 'auto' };
}

export type ImageFormat = 'JPEG' | 'PNG' | 'WEBP' | 'UNKNOWN';
export type Decision = 'ACCEPT' | 'REJECT' | 'BORDERLINE';
export type Escalation = 'NONE' | 'ESCALATED' | 'SKIPPED_OVERLOAD';

export interface Point { x: number; y: number }
export interface BBox { x: number; y: number; width: number; height: number }
export interface Thresholds { accept: number; reject: number }
export interface KafkaSource { topic: string; partition: number; offset: string }

export interface FaceCrop {
  cameraId: string;
  frameId: string;
  trackId: string | null;
  /** ms since the Unix epoch */
  captureTimestamp: number;
  image: Buffer;
  imageFormat: ImageFormat;
  /** left eye, right eye, nose, left mouth, right mouth, as seen in the image, crop pixels */
  landmarks: Point[] | null;
  detectorScore: number | null;
  /** in original-frame pixels */
  bbox: BBox | null;
  metadata: Record<string, string>;
}

export interface FaceQuality {
  cameraId: string;
  frameId: string;
  trackId: string | null;
  captureTimestamp: number;
  score: number;
  scoreStd: number | null;
  decision: Decision;
  final: boolean;
  model: { id: string; version: string; role: string };
  executionProvider: string | null;
  thresholds: Thresholds;
  regressionScore: number | null;
  escalation: Escalation;
  landmarkSource: string | null;
  /** ms per stage */
  timings: Record<string, number>;
  source: KafkaSource;
  producedAt: number;
  /** false: shadow mode, the decision is what would have been taken (not enforced). */
  enforced: boolean;
  /** The candidate model's score of the same face, on frames of the canary split. */
  canary: CanaryScore | null;
}

export interface CanaryScore { score: number; modelId: string; modelVersion: string; decision: Decision }

export interface DeadLetter {
  originalKey: Buffer | null;
  originalValue: Buffer | null;
  originalHeaders: Record<string, Buffer>;
  topic: string;
  partition: number;
  offset: string;
  reasonCode: string;
  canRetry: boolean;
  stage: string;
  message: string;
  failedAt: number;
  cameraId: string | null;
  frameId: string | null;
  /** The original value and headers were left out: the dead letter would not fit the broker's limit. */
  originalOmitted?: boolean;
  originalSize?: number | null;
  originalSha256?: string | null;
}

/** Size of `EscalationRequest.alignedRgb`: 112x112 RGB, HWC uint8. */
export const ALIGNED_RGB_BYTES = 112 * 112 * 3;

export interface EscalationRequest {
  cameraId: string;
  frameId: string;
  trackId: string | null;
  captureTimestamp: number;
  alignedRgb: Buffer;
  landmarkSource: string | null;
  regressionScore: number;
  regressionModel: { id: string; version: string };
  thresholds: Thresholds;
  traceparent: string | null;
  source: KafkaSource;
  enqueuedAt: number;
  /** The camera's mode when the gate decided: false in shadow mode. */
  enforced: boolean;
}

/** The folder holding package.json, walking up from this module (src/ or dist/src/). */
export function findRepoRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const SCHEMA_DIR = path.join(findRepoRoot(), 'src', 'schemas');

// avsc's type.schema() drops docs, enum defaults and unknown logical types, so the text a type
// was parsed from is kept: it is what gets registered, for consumers in other languages.
const sources = new WeakMap<avro.Type, string>();

/** Parses a schema (JSON text or object) and remembers its text for schemaText(). */
export function parseSchema(schema: string | object): avro.Type {
  const json = typeof schema === 'string' ? JSON.parse(schema) : schema;
  const type = avro.Type.forSchema(json, typeOptions());
  sources.set(type, JSON.stringify(json));
  return type;
}

/** The schema's JSON text as written, for types from parseSchema(); avsc's export otherwise. */
export function schemaText(type: avro.Type): string {
  return sources.get(type) ?? JSON.stringify(type.schema({ exportAttrs: true }));
}

/** Parses an `.avsc` file (a path, or a name in SCHEMA_DIR without extension). */
export function loadSchema(nameOrPath: string): avro.Type {
  const file = nameOrPath.endsWith('.avsc') ? nameOrPath : path.join(SCHEMA_DIR, `${nameOrPath}.avsc`);
  return parseSchema(readFileSync(file, 'utf8'));
}

export const faceCropType = loadSchema('FaceCrop');
export const faceQualityType = loadSchema('FaceQuality');
export const deadLetterType = loadSchema('DeadLetter');
export const escalationRequestType = loadSchema('EscalationRequest');

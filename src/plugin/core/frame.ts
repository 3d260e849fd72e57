import type { CameraRule } from '../config/cameras.js';
import type { GateError } from './errors.js';

/** 5 facial landmarks (eyes, nose, mouth corners) in crop pixel coordinates, as [x, y] pairs. */
export type Landmarks5 = [number, number][];

/** Where a frame came from in Kafka; absent for frames scored from files. */
export interface FrameSource {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | undefined>;
  timestamp: string;
}

/** A pixel rectangle: left, top, width, height. */
export interface Rect { x: number; y: number; width: number; height: number }

/** A decoded RGB image, interleaved HWC uint8. */
export interface RgbImage {
  width: number;
  height: number;
  /**
   * Set when only this rectangle of the width×height image was decoded: `data` then holds its
   * rows (window.width pixels each), and only the warp reads such an image (see decodeImage).
   */
  window?: Rect;
  data: Buffer;
}

/** A face aligned onto the 112x112 ArcFace template, RGB HWC uint8. */
export interface AlignedFace {
  size: number;
  data: Uint8Array;
  /** How the face was located: from the message's landmarks or by the detector. */
  landmarkSource: 'message' | 'detector';
  landmarks: Landmarks5;
  detectorScore?: number;
  /** Inter-ocular distance in the original crop, px: a cheap resolution signal. */
  eyeDistance: number;
}

export interface ScoreResult {
  score: number;
  std?: number;
  modelId: string;
  modelVersion: string;
  executionProvider?: string;
}

/** The unit that flows through Stages. Stages fill fields in; none removes them. */
export interface Frame {
  id: string;
  cameraId: string;
  trackId?: string | null;
  captureTs?: number;
  source?: FrameSource;
  image?: { bytes: Buffer; format?: string };
  landmarks?: Landmarks5 | null;
  metadata?: Record<string, string>;
  decoded?: RgbImage;
  aligned?: AlignedFace;
  regression?: ScoreResult;
  decision?: 'ACCEPT' | 'REJECT' | 'BORDERLINE';
  /** The canary candidate's score of the same face and what it would decide (config `canary`); it decides nothing. */
  canary?: ScoreResult & { decision: 'ACCEPT' | 'REJECT' | 'BORDERLINE' };
  /** The camera's rule the decision was taken with (mode, thresholds), read once per batch. */
  rule?: CameraRule;
  /** Escalation stage: the full-DifFIQA result (regression then holds the gate's inline score). */
  full?: ScoreResult & { repeats: number; unetCalls: number };
  escalation?: 'ESCALATED' | 'SKIPPED_OVERLOAD';
  /** Escalation stage: when the gate published the request (ms since epoch). */
  enqueuedAt?: number;
  /** Milliseconds spent per stage, for the output event's timings. */
  timings: Record<string, number>;
  receivedAt: number;
  error?: GateError;
  errorStage?: string;
}

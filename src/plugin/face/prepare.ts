import { GateError } from '../core/errors.js';
import type { AlignedFace, Landmarks5 } from '../core/frame.js';
import type { Slots } from '../core/slots.js';
import { alignFace, alignWindow } from './align.js';
import { decodeImage, type DecodeLimits } from './decode.js';
import { detectFace, type DetectOptions, type InferFn } from './detect.js';

export interface PrepareDeps {
  infer: InferFn;
  limits: DecodeLimits;
  detector: DetectOptions;
  /** Bounds detections at once (each holds a 4.9 MB input tensor until its run ends). */
  detectSlots?: Slots;
}

/**
 * Image bytes → 112×112 RGB face on the ArcFace template. Landmarks from the message are trusted
 * when present (bad ones are an input error, not a reason to fall back); otherwise the detector finds them.
 */
export async function prepareFace(bytes: Uint8Array, input: { landmarks?: Landmarks5 | null }, deps: PrepareDeps): Promise<AlignedFace> {
  const { landmarks } = input;
  if (landmarks) {
    // Only the pixels the warp reads are decoded into a buffer (see DecodeOptions.window).
    const part = await decodeImage(bytes, deps.limits, { window: (w, h) => alignWindow(landmarks, w, h) });
    return alignFace(part, landmarks, { landmarkSource: 'message' });
  }
  const img = await decodeImage(bytes, deps.limits);
  const detect = () => detectFace(img, deps.infer, deps.detector);
  const face = await (deps.detectSlots ? deps.detectSlots.run(detect) : detect());
  try {
    return alignFace(img, face.landmarks, { landmarkSource: 'detector', detectorScore: face.score });
  } catch (err) {
    // The message had no landmarks to blame: a detected face reaching out of the crop is no usable face.
    if (err instanceof GateError && err.code === 'INPUT_BAD_LANDMARKS') {
      throw new GateError('INPUT_NO_FACE', `the detected face is not inside the crop: ${err.message}`, { cause: err, details: { detectorScore: face.score } });
    }
    throw err;
  }
}

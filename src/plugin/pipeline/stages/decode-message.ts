import { GateError } from '../../core/errors.js';
import type { Frame } from '../../core/frame.js';
import type { Stage } from '../../core/stage.js';
import { faceCropType, type FaceCrop } from '../../../schemas/index.js';
import type { AvroCodec } from '../../../schemas/codec.js';
import { perFrame } from '../pipeline.js';

/** Kafka value (Confluent-framed Avro FaceCrop) → frame fields. Size is checked before parsing. */
export class DecodeMessageStage implements Stage {
  readonly name = 'decode';
  readonly #codec: AvroCodec;
  readonly #maxBytes: number;

  constructor(codec: AvroCodec, maxMessageBytes: number) {
    this.#codec = codec;
    this.#maxBytes = maxMessageBytes;
  }

  process(frames: Frame[]): Promise<Frame[]> {
    return perFrame(this.name, frames, async (f) => {
      const value = f.source?.value;
      if (!value || value.length === 0) throw new GateError('INPUT_AVRO_DECODE', 'message has no value');
      if (value.length > this.#maxBytes) throw new GateError('INPUT_TOO_LARGE', `message is ${value.length} bytes, over ${this.#maxBytes}`);
      const crop = await this.#codec.decode<FaceCrop>(value, faceCropType);
      f.id = crop.frameId;
      f.cameraId = crop.cameraId;
      f.trackId = crop.trackId;
      f.captureTs = crop.captureTimestamp;
      f.image = { bytes: crop.image, format: crop.imageFormat };
      f.metadata = crop.metadata;
      if (crop.landmarks) {
        if (crop.landmarks.length !== 5) throw new GateError('INPUT_BAD_LANDMARKS', `expected 5 landmarks, got ${crop.landmarks.length}`);
        f.landmarks = crop.landmarks.map((p) => [p.x, p.y]);
      }
    }, 'INPUT_AVRO_DECODE');
  }

  async close(): Promise<void> {}
}

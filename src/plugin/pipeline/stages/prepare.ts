import type { Config } from '../../config/load.js';
import { GateError } from '../../core/errors.js';
import type { Frame } from '../../core/frame.js';
import { Slots } from '../../core/slots.js';
import type { Stage } from '../../core/stage.js';
import { prepareFace, type PrepareDeps } from '../../face/prepare.js';
import type { ModelRuntime } from '../../scorers/runtime.js';
import { perFrame } from '../pipeline.js';

export interface PrepareOptions {
  detectorId: string;
  detectorScore: number;
  limits: PrepareDeps['limits'];
  /** Detections at once: without a bound, every landmark-less frame in flight held its 640×640 input. */
  detectionsInFlight: number;
}

/** The options from the configuration; `detectorId` overrides `models.detector`. */
export function prepareOptions(cfg: Config, detectorId = cfg.get('models.detector')): PrepareOptions {
  return {
    detectorId, detectorScore: cfg.get('face.detectorScore'), detectionsInFlight: cfg.get('face.detectionsInFlight'),
    limits: limitsFrom(cfg),
  };
}

/** The image decoder's limits from the configuration. */
export function limitsFrom(cfg: Config): PrepareDeps['limits'] {
  return { maxBytes: cfg.get('face.maxBytes'), maxPixels: cfg.get('face.maxPixels'), minSide: cfg.get('face.minSide') };
}

/** Image bytes → aligned 112×112 face (message landmarks, else the detector through the pool). */
export class PrepareStage implements Stage {
  readonly name = 'prepare';
  readonly #deps: PrepareDeps;

  constructor(rt: ModelRuntime, opts: PrepareOptions) {
    const entry = rt.entry(opts.detectorId);
    this.#deps = {
      limits: opts.limits,
      detectSlots: new Slots(opts.detectionsInFlight),
      infer: async (modelId, inputs) => {
        const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { type: 'float32' as const, data: t.data, dims: t.dims }]));
        const out = await rt.run(modelId, feeds);
        return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]));
      },
      detector: { modelId: entry.id, inputName: entry.input.name, norm: entry.normalisation, colorOrder: entry.input.colorOrder, scoreThreshold: opts.detectorScore },
    };
  }

  process(frames: Frame[]): Promise<Frame[]> {
    return perFrame(this.name, frames, async (f) => {
      if (!f.image) throw new GateError('INPUT_EMPTY_IMAGE', 'frame has no image');
      f.aligned = await prepareFace(f.image.bytes, { landmarks: f.landmarks }, this.#deps);
    }, 'INPUT_IMAGE_DECODE');
  }

  async close(): Promise<void> {}
}

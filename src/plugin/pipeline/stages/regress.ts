import { GateError } from '../../core/errors.js';
import type { Frame } from '../../core/frame.js';
import type { Stage } from '../../core/stage.js';
import type { RegressScorer } from '../../scorers/scorers.js';
import type { Backpressure } from '../backpressure.js';
import { perFrame } from '../pipeline.js';

/** DifFIQA(R) through the shared micro-batcher; waits for queue room instead of dropping. */
export class RegressStage implements Stage {
  readonly name = 'regress';
  readonly #scorer: RegressScorer;
  readonly #pressure: Backpressure;

  constructor(scorer: RegressScorer, pressure: Backpressure) {
    this.#scorer = scorer;
    this.#pressure = pressure;
  }

  process(frames: Frame[], signal: AbortSignal): Promise<Frame[]> {
    return perFrame(this.name, frames, async (f) => {
      if (!f.aligned) throw new GateError('INTERNAL', 'frame reached regress without an aligned face');
      // Several waiters wake on one drain and may overfill the queue: a full queue means wait again, never drop.
      for (;;) {
        await this.#pressure.waitForRoom(signal);
        try {
          f.regression = await this.#scorer.score(f.aligned);
          return;
        } catch (err) {
          if (!(err instanceof GateError && err.code === 'INFER_QUEUE_FULL')) throw err;
        }
      }
    }, 'INFER_FAILED');
  }

  async close(): Promise<void> {}
}

import type { Frame } from './frame.js';

/**
 * A step of the pipeline. Gets a batch of frames, returns the frames it passes on.
 * Return fewer frames to filter; set frame.error to fail one frame (it goes to the DLQ);
 * throw only when the whole batch failed. Never invent frames; derive them. close() is idempotent.
 * Frames that arrive with `error` set are passed through untouched: the pipeline routes them.
 */
export interface Stage {
  readonly name: string;
  process(batch: Frame[], signal: AbortSignal): Promise<Frame[]>;
  close(): Promise<void>;
}

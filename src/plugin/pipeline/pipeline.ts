import { GateError, toGateError } from '../core/errors.js';
import type { Frame } from '../core/frame.js';
import type { Stage } from '../core/stage.js';

/** Wraps each stage (telemetry does: spans and metrics); the pipeline itself stays telemetry-free. */
export type StageWrapper = (stage: Stage) => Stage;

/**
 * Runs a chunk of frames through the stages in order. Failed frames (frame.error) keep their
 * place in the chunk so the caller can dead-letter them; a stage that throws fails its whole
 * batch with a coded error instead of losing it. Never throws.
 */
export class Pipeline {
  readonly stages: Stage[];

  constructor(stages: Stage[], wrap: StageWrapper = (s) => s) {
    this.stages = stages.map(wrap);
  }

  async run(frames: Frame[], signal: AbortSignal): Promise<Frame[]> {
    let live = frames.filter((f) => !f.error);
    for (const stage of this.stages) {
      if (live.length === 0) break;
      const t0 = performance.now();
      let passed: Frame[];
      try {
        passed = await stage.process(live, signal);
      } catch (err) {
        const e = toGateError(err, 'INTERNAL');
        for (const f of live) fail(f, e, stage.name);
        break;
      }
      const ms = performance.now() - t0;
      const kept = new Set(passed);
      for (const f of live) {
        f.timings[stage.name] = (f.timings[stage.name] ?? 0) + ms;
        // A stage may filter, but the gate owes every input an outcome: a dropped frame is a bug, made visible.
        if (!kept.has(f) && !f.error) fail(f, new GateError('INTERNAL', `stage ${stage.name} dropped the frame without an error`), stage.name);
      }
      live = passed.filter((f) => !f.error);
    }
    return frames;
  }

  async close(): Promise<void> {
    for (const s of [...this.stages].reverse()) await s.close();
  }
}

export function fail(frame: Frame, error: GateError, stage: string): void {
  frame.error = error;
  frame.errorStage = stage;
}

/** Runs fn per frame concurrently, turning a throw into that frame's coded error. */
export async function perFrame(stageName: string, frames: Frame[], fn: (f: Frame) => Promise<void>, fallback: GateError['code'] = 'INTERNAL'): Promise<Frame[]> {
  await Promise.all(frames.map(async (f) => {
    try { await fn(f); } catch (err) { fail(f, toGateError(err, fallback), stageName); }
  }));
  return frames;
}

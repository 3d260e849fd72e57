import type { Config } from '../config/load.js';
import { DiffusionScorer } from '../diffusion/scorer.js';
import { ModelRuntime } from '../scorers/runtime.js';

/** The model runtime the configuration describes: manifests, mirror, pool shape and batching. */
export function runtimeFromConfig(cfg: Config): ModelRuntime {
  return new ModelRuntime({
    manifestPaths: cfg.get('models.manifests'),
    mirrorDir: cfg.get('models.mirror') || undefined,
    workers: cfg.get('inference.workers'),
    intraOpThreads: cfg.get('inference.intraOpThreads'),
    executionProviders: cfg.get('inference.executionProviders'),
    batch: { maxBatch: cfg.get('inference.maxBatch'), maxDelayMs: cfg.get('inference.maxDelayMs'), maxQueue: cfg.get('inference.maxQueue') },
  });
}

/** Full DifFIQA with the configured embedder and repeats; `denoiserId` as loaded (a fallback keeps the asked id). */
export function diffusionScorerFromConfig(cfg: Config, rt: ModelRuntime, denoiserId: string): DiffusionScorer {
  return new DiffusionScorer(rt, { denoiserId, embedderId: cfg.get('models.embedder'), repeats: cfg.get('escalation.repeats'), maxBatch: cfg.get('escalation.samplesPerCall') });
}

import { PolicySwitch } from '../config/cameras.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../core/log.js';

/** The keys a reload applies: the camera policy, the global values its cameras inherit and the canary split (models: the manifests). */
const RELOADED = new Set(['gate.accept', 'gate.reject', 'gate.escalate', 'escalation.accept', 'escalation.reject', 'canary.fraction', 'canary.cameras']);

export interface PolicyReload {
  /** The policy the decide (or diffusion) stage reads once a batch. */
  readonly policy: PolicySwitch;
  /**
   * Swaps in `next`'s camera policy; other changed keys are named in the log and wait for a
   * restart. `models`: the manifests re-read and changed models swapped in (settles when done).
   */
  reload(next: Config): { patterns: string[]; ignored: string[]; models: Promise<void> };
}

/**
 * Hot reload of the `cameras` section. The stages read the policy once a batch, so the swap lands
 * between batches: nothing is stopped, re-fetched or re-published, no frame lost or duplicated.
 */
export function policyReload(cfg: Config, log: Logger, reloadModels: () => Promise<void>, reloadCanary: (next: Config) => void = () => {}): PolicyReload {
  const policy = new PolicySwitch(cfg.cameras);
  let applied = cfg.toJSON();
  return {
    policy,
    reload(next) {
      const now = next.toJSON();
      const ignored = Object.keys(now).filter((k) => !RELOADED.has(k) && JSON.stringify(now[k]) !== JSON.stringify(applied[k]));
      policy.swap(next.cameras);
      reloadCanary(next);
      applied = { ...applied, ...Object.fromEntries([...RELOADED].map((k) => [k, now[k]])) };
      if (ignored.length) log.warn({ keys: ignored }, 'config reload: these keys take effect only at the next start');
      log.info({ cameras: next.cameras.patterns }, 'config reload: camera policy applied');
      return { patterns: next.cameras.patterns, ignored, models: reloadModels() };
    },
  };
}

import { PolicySwitch } from '../config/cameras.js';
import type { Config } from '../config/load.js';
import { createChannel } from '../core/diagnostic.js';
import type { Logger } from '../core/log.js';
import type { ModelRuntime } from '../scorers/runtime.js';

/** The keys a reload applies: the camera policy, the global values its cameras inherit and the canary split (models: the manifests). */
const RELOADED = new Set(['gate.accept', 'gate.reject', 'gate.escalate', 'escalation.accept', 'escalation.reject', 'canary.fraction', 'canary.cameras']);

/**
 * One reload's outcome: the config file (`config`: applied, or refused and the running policy
 * kept) or one model (`model`: swapped in, or refused and the running model kept). `source` is the
 * app's model runtime, one per app, so a subscriber keeps to its own app.
 */
export interface ReloadEvent { source: ModelRuntime; what: 'config' | 'model'; ok: boolean; id?: string; code?: string }

export const reloadChannels = { done: createChannel<ReloadEvent>('reload:done') };

export interface PolicyReload {
  /** The policy the decide (or diffusion) stage reads once a batch. */
  readonly policy: PolicySwitch;
  /**
   * Swaps in `next`'s camera policy; other changed keys are named in the log and wait for a
   * restart. `models`: the manifests re-read and changed models swapped in (settles when done).
   * `next` may be a loader (the config file read again): when it throws (a bad file) the running
   * policy stays, the failure is logged and published, and the error is thrown on.
   */
  reload(next: Config | (() => Config)): { patterns: string[]; ignored: string[]; models: Promise<void> };
}

/**
 * Hot reload of the `cameras` section. The stages read the policy once a batch, so the swap lands
 * between batches: nothing is stopped, re-fetched or re-published, no frame lost or duplicated.
 */
export function policyReload(
  cfg: Config, log: Logger, rt: ModelRuntime, reloadModels: () => Promise<void>, reloadCanary: (next: Config) => void = () => {},
): PolicyReload {
  const policy = new PolicySwitch(cfg.cameras);
  let applied = cfg.toJSON();
  // The callers swallow what is thrown (a watcher or a signal has no one to tell): say it here.
  const refuse = (err: unknown, msg: string): never => {
    log.error({ err: (err as Error).message }, msg);
    reloadChannels.done.publish({ source: rt, what: 'config', ok: false, code: (err as { code?: string }).code });
    throw err;
  };
  return {
    policy,
    reload(load) {
      let next: Config;
      try {
        next = typeof load === 'function' ? load() : load;
      } catch (err) {
        return refuse(err, 'config reload failed: the running policy stays');
      }
      const now = next.toJSON();
      const ignored = Object.keys(now).filter((k) => !RELOADED.has(k) && JSON.stringify(now[k]) !== JSON.stringify(applied[k]));
      try {
        policy.swap(next.cameras);
        reloadCanary(next);
      } catch (err) {
        return refuse(err, 'config reload failed while being applied');
      }
      applied = { ...applied, ...Object.fromEntries([...RELOADED].map((k) => [k, now[k]])) };
      if (ignored.length) log.warn({ keys: ignored }, 'config reload: these keys take effect only at the next start');
      log.info({ cameras: next.cameras.patterns }, 'config reload: camera policy applied');
      reloadChannels.done.publish({ source: rt, what: 'config', ok: true });
      return { patterns: next.cameras.patterns, ignored, models: reloadModels() };
    },
  };
}

import type { Config } from '../config/load.js';
import type { Logger } from '../core/log.js';
import { FileWatch } from '../core/watch.js';
import type { ModelRuntime } from '../scorers/runtime.js';
import { reloadChannels } from './reload.js';

/**
 * Model rollout: re-reads the manifests, swaps the changed models in and re-checks the files of
 * the unchanged ones (ModelRuntime.reloadModels), one reload at a time; a change that lands during
 * one runs once more after it. Each swap and each failure (the running model stays) is logged
 * and published on reloadChannels.done (telemetry counts them).
 */
export function modelReloader(rt: ModelRuntime, log: Logger): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  const once = async () => {
    const { swapped, failed } = await rt.reloadModels({ recheckFiles: true });
    for (const e of swapped) {
      log.info({ model: e.id, version: e.version, sha256: e.sha256.slice(0, 12) }, 'model swapped in between batches');
      reloadChannels.done.publish({ source: rt, what: 'model', ok: true, id: e.id });
    }
    for (const f of failed) {
      log.error({ model: f.id, code: f.error.code, err: f.error.message }, 'model reload failed: the running model stays');
      reloadChannels.done.publish({ source: rt, what: 'model', ok: false, id: f.id, code: f.error.code });
    }
  };
  const reload = (): Promise<void> => {
    if (running) { again = true; return running; }
    running = once().catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'model reload failed: the running models stay');
      reloadChannels.done.publish({ source: rt, what: 'model', ok: false, code: 'MODEL_LOAD' });
    }).finally(() => { running = undefined; if (again) { again = false; void reload(); } });
    return running;
  };
  return reload;
}

/**
 * Watches the manifests and the loaded models' files (every place the resolver looks for them),
 * polled every models.watchMs (0: off, SIGHUP only) and debounced by reload.debounceMs, and reloads
 * on a change. A rollout that writes the manifest first sees a checksum failure (the running model
 * stays) and then the swap once the file lands; the watched set follows the manifest after each
 * reload, since a new entry may name another file. Returns the unwatch.
 */
export function watchModels(cfg: Config, rt: ModelRuntime, reload: () => Promise<void>): () => void {
  const intervalMs = cfg.get('models.watchMs');
  if (intervalMs === 0) return () => {};
  const watch = new FileWatch({ intervalMs, debounceMs: cfg.get('reload.debounceMs') }, () => {
    void reload().then(() => watch.set(rt.watchedFiles()));
  });
  watch.set(rt.watchedFiles());
  return () => watch.close();
}

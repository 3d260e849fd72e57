import { unwatchFile, watchFile } from 'node:fs';
import { manifestFiles } from '../assets/manifest.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../core/log.js';
import type { ModelRuntime } from '../scorers/runtime.js';

/**
 * Model rollout: re-reads the manifests and swaps the changed models in (ModelRuntime.reloadModels),
 * one reload at a time; a change that lands during one runs once more after it.
 */
export function modelReloader(rt: ModelRuntime, log: Logger): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  const once = async () => {
    const { swapped, failed } = await rt.reloadModels();
    for (const e of swapped) log.info({ model: e.id, version: e.version, sha256: e.sha256.slice(0, 12) }, 'model swapped in between batches');
    for (const f of failed) log.error({ model: f.id, code: f.error.code, err: f.error.message }, 'model reload failed: the running model stays');
  };
  const reload = (): Promise<void> => {
    if (running) { again = true; return running; }
    running = once().catch((err: unknown) => log.error({ err: (err as Error).message }, 'model reload failed: the running models stay'))
      .finally(() => { running = undefined; if (again) { again = false; void reload(); } });
    return running;
  };
  return reload;
}

/** Polls the manifest files (models.watchMs; 0: off) and reloads on a change. Returns the unwatch. */
export function watchManifests(cfg: Config, reload: () => Promise<void>): () => void {
  const interval = cfg.get('models.watchMs');
  if (interval === 0) return () => {};
  const files = manifestFiles(cfg.get('models.manifests'));
  const changed = (now: { mtimeMs: number }, before: { mtimeMs: number }) => { if (now.mtimeMs !== before.mtimeMs) void reload(); };
  for (const f of files) watchFile(f, { interval, persistent: false }, changed);
  return () => { for (const f of files) unwatchFile(f, changed); };
}

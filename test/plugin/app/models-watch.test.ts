import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelReloader, watchModels } from '../../../src/plugin/app/models-watch.js';
import { reloadChannels, type ReloadEvent } from '../../../src/plugin/app/reload.js';
import { buildConfig } from '../../../src/plugin/config/load.js';
import { subscribeTo } from '../../../src/plugin/core/diagnostic.js';
import { createLogger } from '../../../src/plugin/core/log.js';
import { packageRoot } from '../../../src/plugin/core/paths.js';
import { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { FIXTURE_REGRESSOR_ID, prepareFixtureModels, type FixtureModels } from '../../helpers/fixture-models.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('watchModels', () => {
  let fx: FixtureModels;
  let rt: ModelRuntime;
  const events: ReloadEvent[] = [];
  const stops: (() => void)[] = [];

  beforeAll(async () => {
    fx = await prepareFixtureModels();
    rt = new ModelRuntime({ manifestPaths: [fx.manifestPath], cacheDir: fx.cacheDir, mirrorDir: fx.mirrorDir, allowDownload: false, workers: 1 });
    await rt.load(FIXTURE_REGRESSOR_ID);
    stops.push(subscribeTo(reloadChannels.done, rt, (e) => events.push(e)));
    const cfg = buildConfig({}, {}, { 'models.manifests': [fx.manifestPath], 'models.watchMs': 30, 'reload.debounceMs': 100 });
    stops.push(watchModels(cfg, rt, modelReloader(rt, createLogger('silent'))));
  });
  afterAll(async () => { for (const s of stops) s(); await rt.close(); await fx.cleanup(); });

  const version = () => rt.pool.model(FIXTURE_REGRESSOR_ID).entry.version;
  const face = () => new Uint8Array(112 * 112 * 3).fill(90);

  it('watchModels should keep the running model while a rollout\'s manifest names a file not there yet, swap it once the file lands, and refuse it damaged in place', async () => {
    // The new model: the project's own regressor (same input), under a file name the cache does not have yet.
    const source = path.join(packageRoot(), 'models', 'own', 'diffiqa-r-own.onnx');
    const sha256 = createHash('sha256').update(await readFile(source)).digest('hex');
    const manifest = JSON.parse(await readFile(fx.manifestPath, 'utf8')) as { models: Record<string, unknown>[] };
    const entry = manifest.models.find((m) => m.id === FIXTURE_REGRESSOR_ID)!;
    Object.assign(entry, { file: 'rollout.onnx', version: 'v2', sha256 });
    delete entry.bundledPath;
    delete entry.mirrorPath;
    await writeFile(fx.manifestPath, JSON.stringify(manifest));

    await until('the manifest change to be refused', () => events.length >= 1);
    expect(events.map((e) => [e.what, e.ok, e.id, e.code])).toEqual([['model', false, FIXTURE_REGRESSOR_ID, 'ASSET_NOT_FOUND']]);
    expect(version()).toBe('fixture');

    const target = path.join(fx.cacheDir, 'models', 'rollout.onnx');
    expect(rt.watchedFiles()).toContain(target);
    await copyFile(source, target);
    await until('the model file to be swapped in', () => events.some((e) => e.ok));
    expect(version()).toBe('v2');
    const scored = await rt.batcher(FIXTURE_REGRESSOR_ID).submitWith(face());
    expect(scored.model.entry.version).toBe('v2');

    const before = events.length;
    await writeFile(target, Buffer.from('not a model any more'));
    await until('the damaged file to be reported', () => events.length > before);
    expect(events.slice(before).map((e) => [e.what, e.ok, e.code])).toEqual([['model', false, 'ASSET_CHECKSUM']]);
    // The sessions hold the verified bytes: scoring goes on with v2, the same score as before.
    const after = await rt.batcher(FIXTURE_REGRESSOR_ID).submitWith(face());
    expect([after.model.entry.version, after.outputs.score[0]]).toEqual(['v2', scored.outputs.score[0]]);
  });
});

import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { FIXTURE_REGRESSOR_ID, prepareFixtureModels, type FixtureModels } from '../../helpers/fixture-models.js';

describe('ModelRuntime.reloadModels', () => {
  let fx: FixtureModels;
  let rt: ModelRuntime;
  let original: string;
  const face = () => new Uint8Array(112 * 112 * 3).fill(100);
  const edit = async (change: (m: Record<string, unknown>) => void) => {
    const manifest = JSON.parse(original) as { models: Record<string, unknown>[] };
    change(manifest.models[0]);
    await writeFile(fx.manifestPath, JSON.stringify(manifest));
  };

  beforeAll(async () => {
    fx = await prepareFixtureModels();
    original = await readFile(fx.manifestPath, 'utf8');
    rt = new ModelRuntime({ manifestPaths: [fx.manifestPath], cacheDir: fx.cacheDir, mirrorDir: fx.mirrorDir, allowDownload: false, workers: 2 });
    await rt.load(FIXTURE_REGRESSOR_ID);
  });
  afterAll(async () => { await rt.close(); await fx.cleanup(); });

  it('reloadModels should keep the running model when the new entry\'s file fails its sha256 or changes the input', async () => {
    const before = await rt.batcher(FIXTURE_REGRESSOR_ID).submitWith(face());
    await edit((m) => { m.sha256 = '0'.repeat(64); m.version = 'corrupt'; });
    const bad = await rt.reloadModels();
    expect(bad.swapped).toEqual([]);
    expect(bad.failed.map((f) => [f.id, f.error.code])).toEqual([[FIXTURE_REGRESSOR_ID, 'ASSET_CHECKSUM']]);
    await edit((m) => { m.version = 'renormalised'; m.normalisation = { mean: [0, 0, 0], std: [1, 1, 1] }; });
    expect((await rt.reloadModels()).failed.map((f) => f.error.message)).toEqual([expect.stringContaining('needs a restart')]);
    const after = await rt.batcher(FIXTURE_REGRESSOR_ID).submitWith(face());
    expect([after.model.entry.version, after.outputs.score[0]]).toEqual(['fixture', before.outputs.score[0]]);
  });

  it('reloadModels should swap a changed entry in and label later runs with its version, and do nothing when nothing changed', async () => {
    await edit((m) => { m.version = 'v2'; });
    const { swapped, failed } = await rt.reloadModels();
    expect([swapped.map((e) => e.version), failed]).toEqual([['v2'], []]);
    const runs = await Promise.all([1, 2, 3].map(() => rt.batcher(FIXTURE_REGRESSOR_ID).submitWith(face())));
    expect(runs.map((r) => r.model.entry.version)).toEqual(['v2', 'v2', 'v2']);
    expect(await rt.reloadModels()).toEqual({ swapped: [], failed: [] });
  });
});

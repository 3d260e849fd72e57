/**
 * The real ONNX test regressor (`.cache/fixtures/tiny-regressor.onnx`, built by models/ci.sh) as
 * the gate's regressor, through an extra manifest: the project's own DifFIQA(R) is still being
 * trained, and delivery tests need a real model that is fast on two cores.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ModelEntry } from '../../src/plugin/assets/manifest.js';
import { cacheDir, packageRoot } from '../../src/plugin/core/paths.js';
import { sharedDir } from './shared.js';

export const FIXTURE_REGRESSOR_ID = 'tiny-regressor';
/** The tiny denoiser fixture, for escalation-stage tests (`prepareFixtureModels({ denoiser: true })`). */
export const FIXTURE_DENOISER_ID = 'tiny-denoiser';
/** The dynamic-batch embedder models/ci.sh builds into the cache; the escalation stage needs it. */
const EMBEDDER_FILE = 'mobilefacenet-dyn.onnx';

export interface FixtureModels {
  /** Temp folder holding the manifest and the model cache; `cleanup()` removes it. */
  dir: string;
  manifestPath: string;
  /** DIFFIQA_CACHE for gates: the regressor is already in its models/ folder. */
  cacheDir: string;
  /** The asset mirror the detector resolves from (DIFFIQA_ASSET_MIRROR, default ../shared). */
  mirrorDir: string;
  /** Config overrides for buildConfig (in-process gates) or a YAML file (child processes). */
  overrides: Record<string, unknown>;
  /** Environment for a child-process gate; in-process gates need `cacheDir` in process.env too. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Where models/ci.sh writes the fixture (DIFFIQA_CACHE/fixtures, default .cache/fixtures). */
export function fixtureRegressorPath(): string {
  return path.join(cacheDir(), 'fixtures', 'tiny-regressor.onnx');
}

export function fixtureDenoiserPath(): string {
  return path.join(cacheDir(), 'fixtures', 'tiny-denoiser.onnx');
}

async function denoiserEntry(source: string): Promise<ModelEntry> {
  return {
    id: FIXTURE_DENOISER_ID, version: 'fixture', role: 'denoiser', file: 'tiny-denoiser.onnx',
    sha256: createHash('sha256').update(await readFile(source)).digest('hex'), derivedBy: 'models/ci.sh',
    input: { name: 'x', layout: 'NCHW', shape: [1, 3, 112, 112], colorOrder: 'RGB', timestepName: 't' }, outputs: ['x0'],
    batch: 'dynamic', normalisation: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, licence: 'Apache-2.0',
  };
}

/** `denoiser: true` adds the tiny denoiser as models.denoiser, and the cache's dynamic embedder, for escalation stages. */
export async function prepareFixtureModels(opts: { denoiser?: boolean } = {}): Promise<FixtureModels> {
  const source = fixtureRegressorPath();
  if (!existsSync(source)) throw new Error(`${source} is missing: run models/ci.sh to build the test fixtures`);
  const denoiserSource = fixtureDenoiserPath();
  const embedderSource = path.join(cacheDir(), 'models', EMBEDDER_FILE);
  if (opts.denoiser) {
    for (const f of [denoiserSource, embedderSource]) if (!existsSync(f)) throw new Error(`${f} is missing: run models/ci.sh to build the test fixtures`);
  }
  const mirrorDir = process.env.DIFFIQA_ASSET_MIRROR ?? sharedDir();
  const bytes = await readFile(source);
  const entry: ModelEntry = {
    id: FIXTURE_REGRESSOR_ID,
    version: 'fixture',
    role: 'regressor',
    file: 'tiny-regressor.onnx',
    // Computed, not pinned: the fixture is rebuilt whenever its builder changes.
    sha256: createHash('sha256').update(bytes).digest('hex'),
    derivedBy: 'models/ci.sh',
    input: { name: 'input', layout: 'NCHW', shape: [1, 3, 112, 112], colorOrder: 'RGB' },
    outputs: ['score'],
    batch: 'dynamic',
    normalisation: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    licence: 'Apache-2.0',
  };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'diffiqa-fixture-models-'));
  const cache = path.join(dir, 'cache');
  await mkdir(path.join(cache, 'models'), { recursive: true });
  await copyFile(source, path.join(cache, 'models', entry.file));
  const models = [entry];
  if (opts.denoiser) {
    models.push(await denoiserEntry(denoiserSource));
    await copyFile(denoiserSource, path.join(cache, 'models', 'tiny-denoiser.onnx'));
    // Listed in the project manifest (by sha256); the temporary cache only needs the file.
    await copyFile(embedderSource, path.join(cache, 'models', EMBEDDER_FILE));
  }
  const manifestPath = path.join(dir, 'manifest.json');
  await writeFile(manifestPath, JSON.stringify({ models }, null, 2));
  return {
    dir,
    manifestPath,
    cacheDir: cache,
    mirrorDir,
    overrides: { 'models.manifests': [manifestPath], 'models.regressor': FIXTURE_REGRESSOR_ID, 'models.mirror': mirrorDir, ...(opts.denoiser ? { 'models.denoiser': FIXTURE_DENOISER_ID } : {}) },
    env: { DIFFIQA_CACHE: cache, DIFFIQA_ASSET_MIRROR: mirrorDir, DIFFIQA_ASSET_DOWNLOAD: '0' },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The repository root, for spawning the built CLI. */
export const repoRoot = packageRoot();

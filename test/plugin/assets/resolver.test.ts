import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AssetResolver } from '../../../src/plugin/assets/resolver.js';
import { loadManifest, parseManifest, type ModelEntry } from '../../../src/plugin/assets/manifest.js';
import { GateError } from '../../../src/plugin/core/errors.js';
import { sharedDir } from '../../helpers/shared.js';

async function fixture(content: string) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'resolver-'));
  await mkdir(path.join(root, 'mirror', 'models'), { recursive: true });
  await writeFile(path.join(root, 'mirror', 'models', 'm.onnx'), content);
  const entry = {
    id: 'm', version: '1', role: 'regressor', file: 'm.onnx', mirrorPath: 'models/m.onnx',
    sha256: createHash('sha256').update('the real bytes').digest('hex'),
    input: { name: 'input', layout: 'NCHW', shape: [1, 3, 112, 112], colorOrder: 'RGB' }, outputs: ['score'],
    batch: 'dynamic', normalisation: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, licence: 'test',
  } as ModelEntry;
  return { root, entry };
}

describe('AssetResolver', () => {
  it('resolve should copy a verified file from the mirror into the cache', async () => {
    const { root, entry } = await fixture('the real bytes');
    const r = new AssetResolver({ cacheDir: path.join(root, 'cache'), mirrorDir: path.join(root, 'mirror'), allowDownload: false });
    const file = await r.resolve(entry);
    expect(file).toBe(path.join(root, 'cache', 'models', 'm.onnx'));
    // Second resolver finds it in the cache even without a mirror.
    const again = await new AssetResolver({ cacheDir: path.join(root, 'cache'), mirrorDir: '', allowDownload: false }).resolve(entry);
    expect(again).toBe(file);
  });

  it('resolve should refuse a corrupt file with ASSET_CHECKSUM naming the model', async () => {
    const { root, entry } = await fixture('tampered bytes');
    const r = new AssetResolver({ cacheDir: path.join(root, 'cache'), mirrorDir: path.join(root, 'mirror'), allowDownload: false });
    const err = await r.resolve(entry).catch((e) => e);
    expect(err).toBeInstanceOf(GateError);
    expect(err.code).toBe('ASSET_CHECKSUM');
    expect(err.message).toContain('"m"');
    expect(err.message).toContain('mirror');
  });

  it('resolve should say everything it tried when the file is nowhere', async () => {
    const { root, entry } = await fixture('x');
    const r = new AssetResolver({ cacheDir: path.join(root, 'cache'), mirrorDir: path.join(root, 'nothing'), allowDownload: false });
    const err = await r.resolve({ ...entry, url: 'https://example.invalid/m.onnx' }).catch((e) => e);
    expect(err.code).toBe('ASSET_NOT_FOUND');
    expect(err.details.tried).toHaveLength(3);
    expect(err.message).toContain('download: disabled');
  });

  it('resolve should download from the upstream URL and check its sha256', async () => {
    const { root, entry } = await fixture('x');
    const fetchImpl = (async () => new Response('the real bytes')) as unknown as typeof fetch;
    const r = new AssetResolver({ cacheDir: path.join(root, 'cache'), allowDownload: true, fetchImpl });
    expect(await r.resolve({ ...entry, mirrorPath: undefined, url: 'https://upstream/m.onnx' })).toContain('m.onnx');
    const bad = new AssetResolver({ cacheDir: path.join(root, 'cache2'), allowDownload: true, fetchImpl: (async () => new Response('evil')) as unknown as typeof fetch });
    const err = await bad.resolve({ ...entry, mirrorPath: undefined, url: 'https://upstream/m.onnx' }).catch((e) => e);
    expect(err.message).toMatch(/sha256 .* does not match/);
  });

  it('resolve should find every shared model of the project manifest through the mirror', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'resolver-'));
    const r = new AssetResolver({ cacheDir: root, mirrorDir: sharedDir(), allowDownload: false });
    const shared = loadManifest().models.filter((m) => m.mirrorPath);
    expect(shared.length).toBeGreaterThanOrEqual(2);
    for (const m of shared) expect(await r.resolve(m)).toContain(m.file);
  });
});

describe('parseManifest', () => {
  it('parseManifest should name the entry and the missing key', () => {
    expect(() => parseManifest({ models: [{ id: 'x' }] }, 'm.json')).toThrow(/models\[0\] \(x\) lacks "version"/);
  });
});

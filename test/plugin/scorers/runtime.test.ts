import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest } from '../../../src/plugin/assets/manifest.js';
import { ModelRuntime } from '../../../src/plugin/scorers/runtime.js';
import { sharedDir } from '../../helpers/shared.js';

describe('ModelRuntime', () => {
  function manifestWith(extra: object): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rt-'));
    const file = path.join(dir, 'm.json');
    const base = loadManifest().models.find((m) => m.id === 'mobilefacenet')!;
    writeFileSync(file, JSON.stringify({ models: [{ ...base, id: 'unbuilt', file: 'unbuilt.onnx', mirrorPath: undefined, sha256: 'f'.repeat(64), derivedBy: 'a script', batch: 'dynamic', ...extra }] }));
    return file;
  }

  it('load should run the fallback under the requested id when the file cannot be resolved', async () => {
    const rt = new ModelRuntime({ manifestPaths: [manifestWith({ fallback: 'mobilefacenet' })], mirrorDir: sharedDir(), cacheDir: mkdtempSync(path.join(os.tmpdir(), 'rt-')), allowDownload: false });
    try {
      const { entry } = await rt.load('unbuilt');
      expect(entry.id).toBe('unbuilt');
      expect(entry.file).toBe('mobilefacenet.onnx');
      expect(entry.batch).toBe('fixed1');
      const out = await rt.run('unbuilt', { input0: { type: 'float32', data: new Float32Array(2 * 3 * 112 * 112), dims: [2, 3, 112, 112] } });
      expect(out.output0.dims).toEqual([2, 128]);
    } finally {
      await rt.close();
    }
  });

  it('load should fail naming what it tried when there is no fallback', async () => {
    const rt = new ModelRuntime({ manifestPaths: [manifestWith({})], mirrorDir: sharedDir(), cacheDir: mkdtempSync(path.join(os.tmpdir(), 'rt-')), allowDownload: false });
    try {
      await expect(rt.load('unbuilt')).rejects.toMatchObject({ code: 'ASSET_NOT_FOUND', message: expect.stringContaining('build it with: a script') });
    } finally {
      await rt.close();
    }
  });
});

import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../plugin/config/load.js';
import type { Frame } from '../../plugin/core/frame.js';
import { PrepareStage, prepareOptions } from '../../plugin/pipeline/stages/prepare.js';
import { runtimeFromConfig } from '../../plugin/app/runtime.js';
import { listImages } from '../../plugin/core/files.js';
import { Progress } from '../../plugin/core/progress.js';

export interface DatasetIndex {
  count: number;
  size: number;
  files: string[];
  identities: string[];
  eyeDistance: number[];
  skipped: { file: string; reason: string }[];
}

/**
 * Aligns every face of a folder-per-identity set with the product's own pipeline (detector +
 * similarity alignment) into one raw file (N×112×112×3 uint8 RGB) + index.json, so Python
 * training reads exactly the crops the gate would see.
 */
export async function buildAlignedDataset(cfg: Config, dataDir: string, outDir: string, opts: { limit?: number; every?: number } = {}): Promise<DatasetIndex> {
  const all = await listImages([dataDir]);
  const every = opts.every ?? 1;
  const files = all.filter((_, i) => i % every === 0).slice(0, opts.limit ?? Infinity);
  const rt = runtimeFromConfig(cfg);
  await rt.load(cfg.get('models.detector'));
  const prep = new PrepareStage(rt, prepareOptions(cfg));
  await mkdir(outDir, { recursive: true });
  const tmp = path.join(outDir, 'faces.u8.tmp');
  const out = createWriteStream(tmp);
  const index: DatasetIndex = { count: 0, size: 112, files: [], identities: [], eyeDistance: [], skipped: [] };
  const progress = new Progress(files.length, 'aligning');
  try {
    for (let i = 0; i < files.length; i += 16) {
      const chunk = files.slice(i, i + 16);
      const frames: Frame[] = await Promise.all(chunk.map(async (file) => ({ id: file, cameraId: 'dataset', image: { bytes: await readFile(file) }, timings: {}, receivedAt: 0 })));
      await prep.process(frames);
      for (const f of frames) {
        const rel = path.relative(dataDir, f.id);
        if (f.error || !f.aligned) { index.skipped.push({ file: rel, reason: f.error?.code ?? 'INTERNAL' }); continue; }
        if (!out.write(f.aligned.data)) await new Promise<void>((r) => out.once('drain', () => r()));
        index.files.push(rel);
        index.identities.push(path.dirname(rel) === '.' ? '' : path.dirname(rel).split(path.sep)[0]);
        index.eyeDistance.push(Math.round(f.aligned.eyeDistance * 100) / 100);
        index.count++;
      }
      progress.tick(chunk.length);
    }
  } finally {
    progress.end();
    await new Promise<void>((r) => out.end(r));
    await rt.close();
  }
  await rename(tmp, path.join(outDir, 'faces.u8'));
  await writeFile(path.join(outDir, 'index.json'), JSON.stringify(index));
  return index;
}

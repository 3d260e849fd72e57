import path from 'node:path';
import { GateError } from '../../plugin/core/errors.js';
import { loadConfigFile } from '../../plugin/config/load.js';
import { cacheDir } from '../../plugin/core/paths.js';
import { buildAlignedDataset } from './build.js';
import { flagString, isCount, numberFlag, type Parsed } from '../../plugin/cli/args.js';
import { EXIT } from '../../plugin/cli/exit.js';

/** `diffiqa-gate build-dataset --data DIR [--out DIR] [--limit N] [--every K]`: aligned crops for training. */
export default async function buildDataset(p: Parsed): Promise<number> {
  const data = flagString(p, 'data');
  if (!data) throw new GateError('USAGE', 'build-dataset needs --data DIR');
  const out = flagString(p, 'out') ?? path.join(cacheDir(), 'datasets', 'lfw-aligned');
  const limit = numberFlag(p, 'limit', isCount);
  const every = numberFlag(p, 'every', isCount);
  const cfg = loadConfigFile(flagString(p, 'config'));
  const index = await buildAlignedDataset(cfg, data, out, { limit, every });
  process.stdout.write(JSON.stringify({ out, count: index.count, skipped: index.skipped.length }) + '\n');
  return EXIT.ok;
}

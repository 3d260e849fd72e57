import path from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { packageRoot } from '../core/paths.js';
import { runBench } from '../bench/run.js';
import { flagString, type Parsed } from './args.js';
import { EXIT } from './exit.js';

/**
 * `diffiqa-gate bench [--quick] [--prep] [--out DIR] [--profile DIR] [--config FILE]`: JSON under
 * DIR (default bench/results) plus DIR/latest.md, which is also printed. Exit 1 when a section failed.
 */
export default async function bench(p: Parsed): Promise<number> {
  const cfg = loadConfigFile(flagString(p, 'config'));
  const outDir = path.resolve(flagString(p, 'out') ?? path.join(packageRoot(), 'bench', 'results'));
  const profile = flagString(p, 'profile');
  const { markdown, jsonPath, report } = await runBench({
    quick: p.flags.quick === true, prepOnly: p.flags.prep === true, outDir, cfg,
    command: ['diffiqa-gate bench', ...process.argv.slice(3)].join(' '),
    profileDir: profile ? path.resolve(profile) : undefined,
  });
  process.stdout.write(`${markdown}\n\nwrote ${jsonPath}\n`);
  return Object.keys(report.errors).length ? EXIT.failure : EXIT.ok;
}

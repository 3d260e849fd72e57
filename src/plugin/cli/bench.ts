import path from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { packageRoot } from '../core/paths.js';
import { BENCH_SECTIONS, runBench, type BenchSection } from '../bench/run.js';
import { GateError } from '../core/errors.js';
import { flagString, type Parsed } from './args.js';
import { EXIT } from './exit.js';

/**
 * `diffiqa-gate bench [--quick] [--prep] [--only SECTIONS] [--out DIR] [--profile DIR] [--config FILE]`: JSON under
 * DIR (default bench/results) plus DIR/latest.md, which is also printed. Exit 1 when a section failed.
 */
export default async function bench(p: Parsed): Promise<number> {
  const cfg = loadConfigFile(flagString(p, 'config'));
  const outDir = path.resolve(flagString(p, 'out') ?? path.join(packageRoot(), 'bench', 'results'));
  const profile = flagString(p, 'profile');
  const only = flagString(p, 'only')?.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = only?.filter((x) => !(BENCH_SECTIONS as readonly string[]).includes(x));
  if (unknown?.length) throw new GateError('USAGE', `--only takes ${BENCH_SECTIONS.join(', ')}; not ${unknown.join(', ')}`);
  const { markdown, jsonPath, report } = await runBench({
    quick: p.flags.quick === true, prepOnly: p.flags.prep === true, outDir, cfg,
    command: ['diffiqa-gate bench', ...process.argv.slice(3)].join(' '),
    profileDir: profile ? path.resolve(profile) : undefined, only: only as BenchSection[] | undefined,
  });
  process.stdout.write(`${markdown}\n\nwrote ${jsonPath}\n`);
  return Object.keys(report.errors).length ? EXIT.failure : EXIT.ok;
}

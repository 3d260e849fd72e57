import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../plugin/config/load.js';
import { packageRoot } from '../../plugin/core/paths.js';
import { BENCH_SECTIONS, runBench, type BenchSection } from './run.js';
import { GateError } from '../../plugin/core/errors.js';
import { flagString, type Parsed } from '../../plugin/cli/args.js';
import { EXIT } from '../../plugin/cli/exit.js';
import { restartWithNodeFlags } from './node-flags.js';

/**
 * `diffiqa-gate bench [--quick] [--prep] [--only SECTIONS] [--out DIR] [--profile DIR] [--config FILE]`: JSON under
 * DIR (default bench/results) plus DIR/latest.md, which is also printed. Exit 1 when a section failed.
 */
export default async function bench(p: Parsed): Promise<number> {
  // `node bin.js bench` skips the shebang's flags, and the bench's own process is the load generator
  // and the watcher on the cores the gate is measured on: without the flags its collector ran a
  // mark-compact every ~0.2 s at 70 % load, and the gate's p99 there was 57–196 ms against 42–43
  // with them (BENCHMARKS.md). So the bench, started by the CLI, starts itself again with them.
  if (startedByCli()) {
    const restarted = restartWithNodeFlags(process.argv[1], process.argv.slice(2));
    if (restarted !== undefined) return restarted;
  }
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

/** This process is the CLI's bin (not a test or a script calling the command). */
function startedByCli(): boolean {
  const real = (p: string) => { try { return realpathSync(p); } catch { return p; } };
  return process.argv[1] !== undefined && real(process.argv[1]) === real(fileURLToPath(new URL('../../plugin/cli/bin.js', import.meta.url)));
}

#!/usr/bin/env -S node --initial-old-space-size=64
import { spawnSync } from 'node:child_process';
import { missingNodeFlags } from '../core/node-flags.js';
import { main } from './main.js';

const argv = process.argv.slice(2);
const missing = missingNodeFlags();
// `node bin.js bench` skips the shebang's flags, and the bench's own process is the load generator
// and the watcher on the cores the gate is measured on: without the flags its collector ran a
// mark-compact every ~0.2 s at 70 % load, and the gate's p99 there was 57–196 ms against 42–43
// with them (BENCHMARKS.md). So the bench starts itself again with them.
if (argv[0] === 'bench' && missing.length > 0) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...missing, process.argv[1], ...argv], { stdio: 'inherit' });
  if (r.error) process.stderr.write(`error: cannot restart the bench with ${missing.join(' ')}: ${r.error.message}\n`);
  process.exitCode = r.status ?? 1;
} else {
  main(argv).then((code) => { process.exitCode = code; });
}

#!/usr/bin/env -S node --initial-old-space-size=64
import { restartWithNodeFlags } from '../core/node-flags.js';
import { main } from './main.js';

const argv = process.argv.slice(2);
// `node bin.js bench` skips the shebang's flags, and the bench's own process is the load generator
// and the watcher on the cores the gate is measured on: without the flags its collector ran a
// mark-compact every ~0.2 s at 70 % load, and the gate's p99 there was 57–196 ms against 42–43
// with them (BENCHMARKS.md). So the bench starts itself again with them.
const restarted = argv[0] === 'bench' ? restartWithNodeFlags(process.argv[1], argv) : undefined;
if (restarted !== undefined) process.exitCode = restarted;
else main(argv).then((code) => { process.exitCode = code; });

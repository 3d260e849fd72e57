import { spawnSync } from 'node:child_process';
import { missingNodeFlags } from '../../plugin/core/node-flags.js';

/**
 * Runs `script args` again in a child node with the missing gate flags, waits for it and returns its
 * exit status; undefined (nothing run) when this process has them. For launchers that are themselves
 * measuring harnesses (bench, bench/perf-gate.mjs), whose collector shares the gate's cores.
 */
export function restartWithNodeFlags(script: string, args: readonly string[]): number | undefined {
  const missing = missingNodeFlags();
  if (missing.length === 0) return undefined;
  const r = spawnSync(process.execPath, [...process.execArgv, ...missing, script, ...args], { stdio: 'inherit' });
  if (r.error) process.stderr.write(`error: cannot restart ${script} with ${missing.join(' ')}: ${r.error.message}\n`);
  return r.status ?? 1;
}

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { GateError } from '../../plugin/core/errors.js';
import { packageRoot } from '../../plugin/core/paths.js';

const exec = promisify(execFile);

/** models/.venv/bin/python, which models/ci.sh creates (torch, onnx, PIL, numpy). */
export function pythonPath(): string {
  return path.join(packageRoot(), 'models', '.venv', 'bin', 'python');
}

/**
 * Runs a script of bench/peer with the models' Python environment and parses the JSON object it
 * prints last on stdout. Its stderr (progress, the exporter's log) goes to `log`.
 */
export async function runPythonJson<T>(script: string, args: string[], log: (msg: string) => void, timeoutMs = 900_000): Promise<T> {
  const py = pythonPath();
  if (!existsSync(py)) throw new GateError('ASSET_NOT_FOUND', `${py} is missing: run 'bash models/ci.sh' to create the Python environment`);
  const root = packageRoot();
  try {
    const { stdout, stderr } = await exec(py, [path.join(root, 'bench', 'peer', script), ...args], {
      cwd: root, timeout: timeoutMs, maxBuffer: 64 << 20,
      env: { ...process.env, PYTHONPATH: path.join(root, 'models') },
    });
    for (const line of stderr.split('\n').filter(Boolean)) log(`  ${script}: ${line}`);
    const last = stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(last) as T;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new GateError('INTERNAL', `bench/peer/${script} failed: ${e.message.split('\n')[0]}${e.stderr ? `\n${e.stderr.slice(-2000)}` : ''}`, { cause: err });
  }
}

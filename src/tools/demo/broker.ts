import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../plugin/core/paths.js';

const run = promisify(execFile);
const script = () => path.join(packageRoot(), 'deploy', 'kafka', 'broker.sh');

/** Starts the project's local broker (installs Kafka from Maven Central on first use); returns its address. */
export async function startLocalBroker(): Promise<string> {
  const { stdout } = await run(script(), ['start'], { timeout: 600_000 });
  return stdout.trim().split('\n').pop()!;
}

export async function localBrokerRunning(): Promise<boolean> {
  return run(script(), ['status']).then(() => true, () => false);
}

export async function stopLocalBroker(): Promise<void> {
  await run(script(), ['stop'], { timeout: 60_000 });
}

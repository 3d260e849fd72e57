import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../plugin/core/paths.js';

const run = promisify(execFile);
const script = () => path.join(packageRoot(), 'deploy', 'kafka', 'broker.sh');
/** broker.sh's exit code for "a port it needs is held by another process". */
const PORT_TAKEN = 4;

type Env = NodeJS.ProcessEnv;

/** Starts the project's local broker (installs Kafka from Maven Central on first use); returns its address. */
export async function startLocalBroker(env: Env = process.env): Promise<string> {
  const { stdout } = await run(script(), ['start'], { timeout: 600_000, env });
  return stdout.trim().split('\n').pop()!;
}

export async function localBrokerRunning(env: Env = process.env): Promise<boolean> {
  return run(script(), ['status'], { env }).then(() => true, () => false);
}

export async function stopLocalBroker(env: Env = process.env): Promise<void> {
  await run(script(), ['stop'], { timeout: 60_000, env });
}

/** Two distinct ports the OS calls free now (held together while asking, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', resolve); });
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

export interface DemoBroker {
  address: string;
  /** Whether this run started it (and so may stop it). */
  started: boolean;
  stop(): Promise<void>;
  /** The shell command that stops it, for a broker left running (--keep-broker). */
  stopCommand: string;
}

/**
 * The demo's broker: the project's broker already running on KAFKA_PORT (default 9092), else a new
 * one there. When that port or the controller's is held by another process (another Kafka, another
 * project's broker) and the user did not choose the ports, a new one on two free ports instead, so
 * the README's quick start works beside whatever holds 9092; that one's run folder is removed when it stops.
 */
export async function demoBroker(say: (line: string) => void, env: Env = process.env): Promise<DemoBroker> {
  const stopCommand = (e: Env) => `${e.KAFKA_PORT ? `KAFKA_PORT=${e.KAFKA_PORT} ` : ''}${e.KAFKA_CONTROLLER_PORT ? `KAFKA_CONTROLLER_PORT=${e.KAFKA_CONTROLLER_PORT} ` : ''}deploy/kafka/broker.sh stop`;
  if (await localBrokerRunning(env)) return { address: await startLocalBroker(env), started: false, stop: async () => {}, stopCommand: stopCommand(env) };
  say('starting the local Kafka broker (first run installs it from Maven Central)…');
  let taken: string;
  try {
    const address = await startLocalBroker(env);
    return { address, started: true, stop: () => stopLocalBroker(env), stopCommand: stopCommand(env) };
  } catch (err) {
    const chosen = env.KAFKA_PORT !== undefined || env.KAFKA_CONTROLLER_PORT !== undefined;
    if ((err as { code?: unknown }).code !== PORT_TAKEN || chosen) throw err;
    taken = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').pop()!.replace(/^broker\.sh: /, '');
  }
  const [port, controller] = (await freePorts(2)).map(String);
  const own = { ...env, KAFKA_PORT: port, KAFKA_CONTROLLER_PORT: controller };
  say(`${taken}: starting the demo's own broker on 127.0.0.1:${port} (controller ${controller}) instead; it stops when the demo ends (unless --keep-broker)`);
  const address = await startLocalBroker(own);
  const runDir = path.join(env.KAFKA_HOME_CACHE ?? path.join(packageRoot(), '.cache', 'kafka'), `run-${port}`);
  return {
    address,
    started: true,
    // A port drawn for one run is never used again: its data and logs would only pile up.
    stop: async () => { await stopLocalBroker(own); await rm(runDir, { recursive: true, force: true }); },
    stopCommand: stopCommand(own),
  };
}

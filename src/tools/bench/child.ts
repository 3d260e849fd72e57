import { fork, type ChildProcess } from 'node:child_process';
import { GateError } from '../../plugin/core/errors.js';
import { missingNodeFlags } from '../../plugin/core/node-flags.js';
import { compiledSibling } from '../../plugin/core/paths.js';
import type { ChildReply, ChildRequest, ChildSample } from './protocol.js';
import { mapSplit, splitDelta, type ThreadSplit } from './split.js';

/** Parent side of gate-child.ts: one request at a time, each answered by one reply. */
export class GateChild {
  readonly #proc: ChildProcess;
  readonly #exited: Promise<unknown>;
  #stderr = '';
  #waiting?: { resolve: (m: ChildReply) => void; reject: (e: Error) => void };
  provider = 'cpu';

  private constructor() {
    this.#proc = fork(compiledSibling(import.meta.url, 'gate-child.js'), [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [...process.execArgv, ...missingNodeFlags()],
    });
    this.#exited = new Promise((res) => this.#proc.once('exit', res));
    this.#proc.stderr!.on('data', (d: Buffer) => { this.#stderr = (this.#stderr + d.toString()).slice(-8000); });
    this.#proc.on('message', (m: ChildReply) => {
      const w = this.#waiting;
      this.#waiting = undefined;
      if (m.type === 'error') w?.reject(new GateError('INTERNAL', `gate child: ${m.message}`));
      else w?.resolve(m);
    });
    this.#proc.on('exit', (code) => this.#waiting?.reject(new GateError('INTERNAL', `gate child exited (${code}): ${this.#stderr.slice(-2000)}`)));
  }

  #ask(req: ChildRequest, timeoutMs: number): Promise<ChildReply> {
    if (this.#waiting) return Promise.reject(new GateError('INTERNAL', 'gate child: one request at a time'));
    return new Promise<ChildReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new GateError('INFER_TIMEOUT', `gate child did not answer ${req.type} within ${timeoutMs} ms: ${this.#stderr.slice(-2000)}`)), timeoutMs);
      this.#waiting = { resolve: (m) => { clearTimeout(timer); resolve(m); }, reject: (e) => { clearTimeout(timer); reject(e); } };
      this.#proc.send(req);
    });
  }

  /**
   * Forks the built gate-child.js and starts a gate with these flat config settings; `transportOnly`:
   * with a fixed score in place of prepare + regress (bench/transport.ts).
   */
  static async start(settings: Record<string, unknown>, opts: { transportOnly?: boolean } = {}): Promise<GateChild> {
    const child = new GateChild();
    try {
      const r = await child.#ask({ type: 'start', settings, transportOnly: opts.transportOnly }, 180_000);
      if (r.type === 'ready') child.provider = r.provider;
      return child;
    } catch (err) {
      child.#proc.kill('SIGKILL');
      throw err;
    }
  }

  async sample(): Promise<ChildSample> {
    return (await this.#ask({ type: 'sample' }, 30_000)) as ChildSample;
  }

  /** Samples the child's main thread with the V8 profiler until profileStop(file). */
  async profileStart(): Promise<void> {
    await this.#ask({ type: 'profile-start' }, 30_000);
  }

  async profileStop(file: string): Promise<void> {
    await this.#ask({ type: 'profile-stop', file }, 60_000);
  }

  /** Drains and stops the gate; the process exits. true = clean drain. */
  async stop(): Promise<boolean> {
    try {
      const r = await this.#ask({ type: 'stop' }, 60_000);
      await Promise.race([this.#exited, new Promise((res) => setTimeout(res, 10_000))]);
      return r.type === 'stopped' && r.clean;
    } finally {
      if (this.#proc.exitCode === null) this.#proc.kill('SIGKILL');
    }
  }
}

/** CPU ms between two samples of the child. */
export const childCpuMs = (a: ChildSample, b: ChildSample) => (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1000;

/** CPU ms per frame of each thread role between two samples; undefined without /proc. */
export function threadsPerFrame(a: ChildSample, b: ChildSample, frames: number): ThreadSplit | undefined {
  if (!a.threads || !b.threads) return undefined;
  const delta = splitDelta(a.threads, b.threads);
  return mapSplit((k) => delta[k] / frames);
}

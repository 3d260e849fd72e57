/**
 * The gate under test in its own process, so that its process.cpuUsage() (all its threads: Kafka
 * client, decode/align, libvips, the inference worker and ORT's threads) holds nothing of the
 * load generator and the outcome watcher, which live in the parent. Driven over the IPC channel.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { startGate, type GateApp } from '../app/gate-app.js';
import { buildConfig } from '../config/load.js';
import { createLogger } from '../core/log.js';
import { createKafkajsClient } from '../kafka/kafkajs.js';

export type ChildRequest =
  | { type: 'start'; settings: Record<string, unknown> }
  | { type: 'sample' }
  | { type: 'profile-start' }
  | { type: 'profile-stop'; file: string }
  | { type: 'stop' };

export interface ChildSample {
  type: 'sample';
  cpu: NodeJS.CpuUsage;
  /** CPU ms of the main thread (event loop: Kafka, Avro, alignment, tensors) and of all other threads, from /proc; -1 elsewhere. */
  mainThreadMs: number;
  otherThreadsMs: number;
  /** Micro-batcher totals of the regressor: batches run and items in them. */
  batches: number;
  items: number;
  records: number;
  pausedMs: number;
}

export type ChildReply = { type: 'ready'; provider: string } | ChildSample | { type: 'ok' } | { type: 'error'; message: string } | { type: 'stopped'; clean: boolean };

let app: GateApp | undefined;
let profiler: Session | undefined;
const reply = (m: ChildReply) => process.send!(m);

/** utime + stime of each thread in ms (Linux /proc; the kernel counts in clock ticks of 10 ms). */
function threadCpu(): { main: number; others: number } {
  try {
    let main = 0, others = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(f[11]) + Number(f[12])) * 10;
      if (Number(tid) === process.pid) main += ms; else others += ms;
    }
    return { main, others };
  } catch {
    return { main: -1, others: -1 };
  }
}

async function handle(m: ChildRequest): Promise<ChildReply> {
  switch (m.type) {
    case 'start': {
      // Env is left out: the parent passes every setting, so a developer's DIFFIQA_GATE__* cannot change what is measured.
      const cfg = buildConfig({}, {}, m.settings);
      const log = createLogger(cfg.get('log.level'));
      const client = createKafkajsClient({ brokers: cfg.get('kafka.brokers'), clientId: cfg.get('kafka.clientId'), logger: log });
      app = await startGate(cfg, client, log);
      return { type: 'ready', provider: app.provider };
    }
    case 'sample': {
      const b = app?.runtime.batchers[0]?.stats;
      const t = threadCpu();
      return {
        type: 'sample', cpu: process.cpuUsage(), mainThreadMs: t.main, otherThreadsMs: t.others,
        batches: b?.batches ?? 0, items: b?.items ?? 0, records: app?.gate.counts.records ?? 0, pausedMs: app?.pressure.pausedMs ?? 0,
      };
    }
    case 'profile-start':
      // The main thread only, and only while the parent says: start-up and idle stay out of it.
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
      return { type: 'ok' };
    case 'profile-stop': {
      const { profile } = await profiler!.post('Profiler.stop');
      profiler!.disconnect();
      profiler = undefined;
      await writeFile(m.file, JSON.stringify(profile));
      return { type: 'ok' };
    }
    case 'stop': {
      const clean = app ? await app.shutdown(10_000) : true;
      return { type: 'stopped', clean };
    }
  }
}

process.on('message', (m: ChildRequest) => {
  void handle(m).then(
    (r) => process.send!(r, () => { if (r.type === 'stopped') process.exit(0); }),
    (err: unknown) => reply({ type: 'error', message: (err as Error).stack ?? String(err) }),
  );
});

/**
 * The gate under test in its own process, so that its process.cpuUsage() (all its threads: Kafka
 * client, decode/align, libvips, the inference worker and ORT's threads) holds nothing of the
 * load generator and the outcome watcher, which live in the parent. Driven over the IPC channel.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { startGate, type GateApp } from '../../plugin/app/gate-app.js';
import { buildConfig } from '../../plugin/config/load.js';
import { createLogger } from '../../plugin/core/log.js';
import type { Stage } from '../../plugin/core/stage.js';
import { threadCpu, watchNewThreads } from './threads.js';
import { createKafkaClient } from '../../plugin/kafka/client.js';
import type { ChildReply, ChildRequest } from './protocol.js';
import type { ThreadSample } from './split.js';
import { FixedScoreStage } from './transport.js';

let app: GateApp | undefined;
/** The inference workers' and onnxruntime's threads, found while the models loaded. */
let inferenceThreads = new Set<number>();
let profiler: Session | undefined;
const reply = (m: ChildReply) => process.send!(m);

function threadSample(inference: Set<number>): ThreadSample[] | undefined {
  const threads = threadCpu();
  if (!threads.length) return undefined;
  return threads.map((t) => ({
    tid: t.tid, ms: t.ms,
    role: t.tid === process.pid ? 'main' : inference.has(t.tid) ? 'inference' : t.name.startsWith('libvips') ? 'libvips' : 'other',
  }));
}

/** prepare + regress replaced by a fixed score: what is left is Kafka, Avro, decide and the gate's bookkeeping. */
function transportOnly(stages: Stage[]): Stage[] {
  return stages.flatMap((s) => s.name === 'prepare' ? [] : s.name === 'regress' ? [new FixedScoreStage()] : [s]);
}

async function handle(m: ChildRequest): Promise<ChildReply> {
  switch (m.type) {
    case 'start': {
      // Env is left out: the parent passes every setting, so a developer's DIFFIQA_GATE__* cannot change what is measured.
      const cfg = buildConfig({}, {}, m.settings);
      const log = createLogger(cfg.get('log.level'));
      const client = createKafkaClient(cfg.get('kafka.client'), { brokers: cfg.get('kafka.brokers'), clientId: cfg.get('kafka.clientId'), logger: log });
      const newThreads = await watchNewThreads();
      app = await startGate(cfg, client, log, {
        ...(m.transportOnly ? { stages: transportOnly } : {}),
        // Called once the models are loaded, before the gate consumes.
        attach: () => { inferenceThreads = new Set(newThreads()); },
      });
      return { type: 'ready', provider: app.provider };
    }
    case 'sample': {
      const b = app?.runtime.batchers[0]?.stats;
      const threads = threadSample(inferenceThreads);
      return {
        type: 'sample', cpu: process.cpuUsage(), threads,
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

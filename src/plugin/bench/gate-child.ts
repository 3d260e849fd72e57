/**
 * The gate under test in its own process, so that its process.cpuUsage() (all its threads: Kafka
 * client, decode/align, libvips, the inference worker and ORT's threads) holds nothing of the
 * load generator and the outcome watcher, which live in the parent. Driven over the IPC channel.
 */
import { startGate, type GateApp } from '../app/gate-app.js';
import { buildConfig } from '../config/load.js';
import { createLogger } from '../core/log.js';
import { createKafkajsClient } from '../kafka/kafkajs.js';

export type ChildRequest = { type: 'start'; settings: Record<string, unknown> } | { type: 'sample' } | { type: 'stop' };

export interface ChildSample {
  type: 'sample';
  cpu: NodeJS.CpuUsage;
  /** Micro-batcher totals of the regressor: batches run and items in them. */
  batches: number;
  items: number;
  records: number;
  pausedMs: number;
}

export type ChildReply = { type: 'ready'; provider: string } | ChildSample | { type: 'error'; message: string } | { type: 'stopped'; clean: boolean };

let app: GateApp | undefined;
const reply = (m: ChildReply) => process.send!(m);

process.on('message', (m: ChildRequest) => {
  void (async () => {
    try {
      if (m.type === 'start') {
        // Env is left out: the parent passes every setting, so a developer's DIFFIQA_GATE__* cannot change what is measured.
        const cfg = buildConfig({}, {}, m.settings);
        const log = createLogger(cfg.get('log.level'));
        const client = createKafkajsClient({ brokers: cfg.get('kafka.brokers'), clientId: cfg.get('kafka.clientId'), logger: log });
        app = await startGate(cfg, client, log);
        reply({ type: 'ready', provider: app.provider });
      } else if (m.type === 'sample') {
        const b = app?.runtime.batchers[0]?.stats;
        reply({ type: 'sample', cpu: process.cpuUsage(), batches: b?.batches ?? 0, items: b?.items ?? 0, records: app?.gate.counts.records ?? 0, pausedMs: app?.pressure.pausedMs ?? 0 });
      } else {
        const clean = app ? await app.shutdown(10_000) : true;
        // Exit explicitly (after the reply is out): --cpu-prof writes its profile at exit.
        process.send!({ type: 'stopped', clean } satisfies ChildReply, () => process.exit(0));
      }
    } catch (err) {
      reply({ type: 'error', message: (err as Error).stack ?? String(err) });
    }
  })();
});

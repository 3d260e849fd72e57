import type { GateApp } from '../app/gate-app.js';
import { loadConfigFile, type Config } from '../config/load.js';
import { createLogger, type Logger } from '../core/log.js';
import { FileWatch } from '../core/watch.js';
import type { KafkaClient } from '../kafka/port.js';
import { createKafkaClient } from '../kafka/client.js';
import { startTelemetry, type Telemetry } from '../telemetry/telemetry.js';
import type { Parsed } from './args.js';
import { serve } from './lifecycle.js';
import { logStartup, serviceConfigFile } from './startup.js';

/** What `run` and `escalate` serve: an app with a gate loop, a policy reload and a drain. */
type ServedApp = Pick<GateApp, 'gate' | 'reload' | 'shutdown'>;

export interface AppCommand<A extends ServedApp> {
  command: string;
  role: 'gate' | 'escalation';
  clientId(base: string): string;
  start(cfg: Config, client: KafkaClient, log: Logger, telemetry: Telemetry): Promise<A>;
  /** The app's counters, logged when it stops. */
  counts(app: A): object;
  /** Checks logged after the start-up line, before Kafka and telemetry start. */
  onStart?(log: Logger): void;
}

/** `run` and `escalate`: config, logger, Kafka client, telemetry, then the app until a signal or a failure. */
export async function serveApp<A extends ServedApp>(p: Parsed, c: AppCommand<A>): Promise<number> {
  const file = serviceConfigFile(p);
  const cfg = loadConfigFile(file);
  const log = createLogger(cfg.get('log.level'));
  logStartup(log, cfg, { role: c.role, configFile: file });
  c.onStart?.(log);
  const client = createKafkaClient(cfg.get('kafka.client'), { brokers: cfg.get('kafka.brokers'), clientId: c.clientId(cfg.get('kafka.clientId')), logger: log });
  // Before the app: /healthz answers (and /readyz says why not) while models load.
  const telemetry = await startTelemetry(cfg, { role: c.role, client, log });
  return serve(c.command, log, async () => {
    const app = await c.start(cfg, client, log, telemetry);
    // A reload that fails is logged and counted by the app's reload itself (a bad file keeps the
    // running policy); the service goes on either way.
    const reload = () => { try { app.reload(() => loadConfigFile(file)); } catch { /* logged by reload */ } };
    const watch = file && cfg.get('reload.watchMs') > 0 ? new FileWatch({ intervalMs: cfg.get('reload.watchMs'), debounceMs: cfg.get('reload.debounceMs') }, reload) : undefined;
    watch?.set([file!]);
    return {
      failed: app.gate.failed,
      reload,
      stop: async () => {
        watch?.close();
        const clean = await app.shutdown(cfg.get('shutdown.deadlineMs'));
        await telemetry.shutdown();
        log.info({ clean, ...c.counts(app) }, 'stopped');
        return clean;
      },
    };
  }, () => telemetry.shutdown());
}

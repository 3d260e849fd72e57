import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../core/log.js';
import { missingNodeFlags } from '../core/node-flags.js';
import { startGate } from '../app/gate-app.js';
import { createKafkaClient } from '../kafka/client.js';
import { startTelemetry } from '../telemetry/telemetry.js';
import { flagString, type Parsed } from './args.js';
import { serve } from './lifecycle.js';
import { logStartup } from './startup.js';

/** `diffiqa-gate run --config FILE`: the gate as a long-running service. */
export default async function run(p: Parsed): Promise<number> {
  const file = flagString(p, 'config');
  const cfg = loadConfigFile(file);
  const log = createLogger(cfg.get('log.level'));
  logStartup(log, cfg, { role: 'gate', configFile: file });
  const missing = missingNodeFlags();
  if (missing.length) log.warn({ missing }, 'node was started without the gate\'s flags: expect a full garbage collection every few hundred frames at saturation');
  const client = createKafkaClient(cfg.get('kafka.client'), { brokers: cfg.get('kafka.brokers'), clientId: cfg.get('kafka.clientId'), logger: log });
  // Before the app: /healthz answers (and /readyz says why not) while models load.
  const telemetry = await startTelemetry(cfg, { role: 'gate', client, log });
  return serve('run', log, async () => {
    const app = await startGate(cfg, client, log, telemetry);
    return {
      failed: app.gate.failed,
      reload: () => { app.reload(loadConfigFile(file)); },
      stop: async () => {
        const clean = await app.shutdown(cfg.get('shutdown.deadlineMs'));
        await telemetry.shutdown();
        log.info({ clean, ...app.gate.counts }, 'stopped');
        return clean;
      },
    };
  }, () => telemetry.shutdown());
}

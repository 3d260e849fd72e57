import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../core/log.js';
import { startEscalation } from '../app/escalation-app.js';
import { createKafkaClient } from '../kafka/client.js';
import { startTelemetry } from '../telemetry/telemetry.js';
import { flagString, type Parsed } from './args.js';
import { serve } from './lifecycle.js';
import { logStartup } from './startup.js';

/** `diffiqa-gate escalate --config FILE`: the full-DifFIQA stage as a service (GPU hosts). */
export default async function escalate(p: Parsed): Promise<number> {
  const file = flagString(p, 'config');
  const cfg = loadConfigFile(file);
  const log = createLogger(cfg.get('log.level'));
  logStartup(log, cfg, { role: 'escalation', configFile: file });
  const client = createKafkaClient(cfg.get('kafka.client'), { brokers: cfg.get('kafka.brokers'), clientId: `${cfg.get('kafka.clientId')}-escalation`, logger: log });
  // Before the app: /healthz answers (and /readyz says why not) while models load.
  const telemetry = await startTelemetry(cfg, { role: 'escalation', client, log });
  return serve('escalate', log, async () => {
    const app = await startEscalation(cfg, client, log, telemetry);
    return {
      failed: app.gate.failed,
      reload: () => { app.reload(loadConfigFile(file)); },
      stop: async () => {
        const clean = await app.shutdown(cfg.get('shutdown.deadlineMs'));
        await telemetry.shutdown();
        log.info({ clean, ...app.gate.counts, ...app.stage.counts }, 'stopped');
        return clean;
      },
    };
  }, () => telemetry.shutdown());
}

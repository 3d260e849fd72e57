import { loadConfigFile } from '../config/load.js';
import { GateError, toGateError, type ErrorCode } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import { missingNodeFlags } from '../core/node-flags.js';
import { startGate, type GateApp } from '../app/gate-app.js';
import { createKafkajsClient } from '../kafka/kafkajs.js';
import { startTelemetry } from '../telemetry/telemetry.js';
import { flagString, type Parsed } from './args.js';
import { EXIT } from './exit.js';
import { onShutdownSignal } from './lifecycle.js';

/** `diffiqa-gate run --config FILE`: the gate as a long-running service. */
export default async function run(p: Parsed): Promise<number> {
  const cfg = loadConfigFile(flagString(p, 'config'));
  const log = createLogger(cfg.get('log.level'));
  const missing = missingNodeFlags();
  if (missing.length) log.warn({ missing }, 'node was started without the gate\'s flags: expect a full garbage collection every few hundred frames at saturation');
  const client = createKafkajsClient({ brokers: cfg.get('kafka.brokers'), clientId: cfg.get('kafka.clientId'), logger: log });
  // Before the app: /healthz answers (and /readyz says why not) while models load.
  const telemetry = await startTelemetry(cfg, { role: 'gate', client, log });
  let app: GateApp;
  try {
    app = await startGate(cfg, client, log, telemetry);
  } catch (err) {
    await telemetry.shutdown();
    return fatal(log, 'the gate could not start', toGateError(err));
  }
  const stop = async () => {
    const clean = await app.shutdown(cfg.get('shutdown.deadlineMs'));
    await telemetry.shutdown();
    log.info({ clean, ...app.gate.counts }, 'stopped');
    return clean;
  };
  return Promise.race([
    onShutdownSignal(log, async () => ((await stop()) ? EXIT.ok : EXIT.drainTimeout)),
    app.gate.failed.then(async (err) => {
      await stop();
      return fatal(log, 'the gate stopped: it cannot go on', err);
    }),
  ]);
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  KAFKA_TOPIC_MISSING: 'create the topic (or correct kafka.inputTopic) and start again',
  KAFKA_NETWORK: 'check kafka.brokers and that the brokers are reachable',
};

/**
 * Exit 4 with the coded error and a hint. A client that still holds a socket or a timer must not
 * keep a failed service alive, so the process is ended shortly after even then.
 */
function fatal(log: Logger, msg: string, err: GateError): number {
  const cause = err.code === 'GATE_FATAL' && err.cause instanceof GateError ? err.cause : err;
  log.fatal({ code: err.code, cause: cause.code, err: err.message, hint: HINTS[cause.code] }, msg);
  process.stderr.write(`diffiqa-gate run: [${err.code}] ${err.message}${HINTS[cause.code] ? ` (${HINTS[cause.code]})` : ''}\n`);
  setTimeout(() => process.exit(EXIT.fatal), FATAL_EXIT_GRACE_MS).unref();
  return EXIT.fatal;
}

const FATAL_EXIT_GRACE_MS = 5000;

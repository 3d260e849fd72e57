import { GateError, toGateError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { EXIT } from './exit.js';

/**
 * SIGTERM/SIGINT → stop fetching, drain, publish, commit, close within the deadline.
 * A second signal does not wait: the process exits at once (offsets not committed are redone).
 */
export function onShutdownSignal(log: Logger, shutdown: () => Promise<number>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without draining');
        process.exit(130);
      }
      stopping = true;
      log.info({ signal }, 'stopping: draining in-flight frames');
      shutdown().then(resolve, (err) => { log.error({ err }, 'shutdown failed'); resolve(4); });
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/** What `serve` runs: an app with a gate that may fail, and how it is stopped. */
export interface Service {
  /** Resolves when the app cannot go on (see Gate.failed). */
  failed: Promise<GateError>;
  /** Drains within the deadline, releases everything; true when clean. */
  stop(): Promise<boolean>;
  /**
   * SIGHUP: re-reads the config file and applies what can change while running (the camera
   * policy). Never throws: a reload that fails (a bad file) keeps the running policy, and the
   * reload itself logs and counts why; the service goes on.
   */
  reload?(): void;
}

/**
 * A consume → publish service from start to exit code: a start that fails, or a service that
 * fails while it runs, exits 4 with the coded error and a hint (never hangs); SIGTERM/SIGINT drain
 * it (0 clean, 3 not). `cleanup` runs after a failed start (what was started before the app).
 */
export async function serve(command: string, log: Logger, start: () => Promise<Service>, cleanup: () => Promise<void>): Promise<number> {
  let service: Service;
  try {
    service = await start();
  } catch (err) {
    await cleanup();
    return fatal(command, log, `${command} could not start`, toGateError(err));
  }
  if (service.reload) process.on('SIGHUP', service.reload);
  onUncaught(command, log);
  return Promise.race([
    onShutdownSignal(log, async () => ((await service.stop()) ? EXIT.ok : EXIT.drainTimeout)),
    service.failed.then(async (err) => {
      await service.stop();
      return fatal(command, log, `${command} stopped: it cannot go on`, err);
    }),
  ]);
}

/**
 * A throw nobody caught (a client library's bug in its socket callback, say): the state is
 * unknown, so no drain. It ends the service coded, exit 4, instead of Node's bare stack trace;
 * what was not committed is redone by the next start (at-least-once and exactly-once alike).
 */
function onUncaught(command: string, log: Logger): void {
  process.on('uncaughtException', (err) => {
    fatal(command, log, `${command} stopped: an error escaped every handler`, new GateError('INTERNAL', `uncaught: ${err.message}`, { cause: err }));
    log.flush();
    process.exit(EXIT.fatal);
  });
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  KAFKA_TOPIC_MISSING: 'create the topic (or correct kafka.inputTopic) and start again',
  KAFKA_NETWORK: 'check kafka.brokers and that the brokers are reachable',
};

/**
 * Exit 4 with the coded error and a hint. A client that still holds a socket or a timer must not
 * keep a failed service alive, so the process is ended shortly after even then.
 */
function fatal(command: string, log: Logger, msg: string, err: GateError): number {
  const cause = err.code === 'GATE_FATAL' && err.cause instanceof GateError ? err.cause : err;
  const hint = HINTS[cause.code];
  log.fatal({ code: err.code, cause: cause.code, err: err.message, hint }, msg);
  process.stderr.write(`diffiqa-gate ${command}: [${err.code}] ${err.message}${hint ? ` (${hint})` : ''}\n`);
  setTimeout(() => process.exit(EXIT.fatal), FATAL_EXIT_GRACE_MS).unref();
  return EXIT.fatal;
}

const FATAL_EXIT_GRACE_MS = 5000;

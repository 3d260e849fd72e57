import type { Logger } from '../core/log.js';

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

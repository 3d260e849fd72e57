import { loadConfigFile } from '../config/load.js';
import { Lifecycle } from '../core/lifecycle.js';
import { createLogger } from '../core/log.js';
import { createQualityScorer, type ScoringMode } from '../app/quality.js';
import { createScoreServer } from '../serve/http.js';
import { flagString, type Parsed } from './args.js';
import { EXIT } from './exit.js';
import { onShutdownSignal } from './lifecycle.js';

/** `diffiqa-gate serve --config FILE`: HTTP scoring (POST /score) with the gate's models, limits and coded errors. */
export default async function serve(p: Parsed): Promise<number> {
  const cfg = loadConfigFile(flagString(p, 'config'));
  const log = createLogger(cfg.get('log.level'));
  const life = new Lifecycle();
  const scorer = await createQualityScorer({ config: cfg, mode: cfg.get('serve.mode') as ScoringMode });
  life.onClose('models', () => scorer.close());
  const server = createScoreServer(scorer, { maxBytes: cfg.get('face.maxBytes'), maxInFlight: cfg.get('inference.maxQueue') });
  // Closing stops taking requests and waits for those in scoring, within the drain deadline.
  life.onClose('http', () => server.close(), { timeoutMs: cfg.get('shutdown.deadlineMs') });
  try {
    await server.listen({ port: cfg.get('serve.port'), host: cfg.get('serve.host') });
  } catch (err) {
    await life.close();
    throw err;
  }
  log.info({ address: server.addresses(), mode: cfg.get('serve.mode') }, 'scoring on POST /score');
  return onShutdownSignal(log, async () => {
    const report = await life.close();
    log.info(report, 'stopped');
    return report.timedOut.length ? EXIT.drainTimeout : EXIT.ok;
  });
}

import { startEscalation } from '../app/escalation-app.js';
import type { Parsed } from './args.js';
import { serveApp } from './service.js';

/** `diffiqa-gate escalate --config FILE`: the full-DifFIQA stage as a service (GPU hosts). */
export default function escalate(p: Parsed): Promise<number> {
  return serveApp(p, {
    command: 'escalate', role: 'escalation', clientId: (base) => `${base}-escalation`,
    start: startEscalation, counts: (app) => ({ ...app.gate.counts, ...app.stage.counts }),
  });
}

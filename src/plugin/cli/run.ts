import { missingNodeFlags } from '../core/node-flags.js';
import { startGate } from '../app/gate-app.js';
import type { Parsed } from './args.js';
import { serveApp } from './service.js';

/** `diffiqa-gate run --config FILE`: the gate as a long-running service. */
export default function run(p: Parsed): Promise<number> {
  return serveApp(p, {
    command: 'run', role: 'gate', clientId: (base) => base,
    // Backpressure's pauses in the stop line: whatever the Kafka client logs (or not), it says whether fetching was held back.
    start: startGate, counts: (app) => ({ ...app.gate.counts, pauses: app.pressure.pauses, pausedMs: Math.round(app.pressure.pausedMs) }),
    onStart: (log) => {
      const missing = missingNodeFlags();
      if (missing.length) log.warn({ missing }, 'node was started without the gate\'s flags: expect a full garbage collection every few hundred frames at saturation');
    },
  });
}

import type { Logger } from '../core/log.js';
import type { OutRecord, ProducerPort } from '../kafka/port.js';
import type { CanaryEvent } from './canary.js';
import type { DriftEvent, DriftOptions } from './monitor.js';

/**
 * The alert event, JSON (UTF-8) rather than Avro: alerts are rare, read by people and by
 * alerting tools that rarely speak the schema registry. Key = camera id (one camera's alerts stay
 * in order on one partition); header `content-type: application/json`; `schema` names the shape:
 *
 * { "schema": "diffiqa.drift-alert/v1", "type": "drift" | "recovered", "cameraId": "cam-7",
 *   "service": "diffiqa-gate", "at": 1764280000000 (ms since epoch),
 *   "baseline": { "median": 0.71, "acceptRate": 0.83, "count": 500 },
 *   "recent":   { "median": 0.42, "acceptRate": 0.20, "count": 200 },
 *   "medianShift": -0.29, "acceptRateShift": -0.63,          (recent − baseline)
 *   "reasons": ["median", "acceptRate"],                     (bounds exceeded; [] on recovery)
 *   "bounds": { "medianShift": 0.1, "acceptRateShift": 0.2 } }
 */
export const DRIFT_ALERT_SCHEMA = 'diffiqa.drift-alert/v1';

/** What every alert adds to its event: the service that raised it and the bounds it was judged by. */
export interface AlertEnvelope {
  service: string;
  bounds: { medianShift: number; acceptRateShift: number };
}

type AlertBounds = Pick<DriftOptions, 'medianShift' | 'acceptRateShift'>;

const envelope = (service: string, o: AlertBounds): AlertEnvelope => ({ service, bounds: { medianShift: o.medianShift, acceptRateShift: o.acceptRateShift } });

export interface DriftAlert extends DriftEvent, AlertEnvelope {
  schema: typeof DRIFT_ALERT_SCHEMA;
}

export function driftAlert(e: DriftEvent, service: string, o: AlertBounds): DriftAlert {
  return { schema: DRIFT_ALERT_SCHEMA, ...e, ...envelope(service, o) };
}

/**
 * The canary's alert, on the same topic: { "schema": "diffiqa.canary-alert/v1",
 * "type": "diverged" | "converged", "regressor": "diffiqa-r-own", "candidate": "ediffiqa-t-own",
 * "service": "diffiqa-gate", "at": ms since epoch, "summary": { "count": 200,
 * "regressor": { "median", "acceptRate" }, "candidate": { "median", "acceptRate" },
 * "medianShift", "acceptRateShift" (candidate − regressor), "agreement" }, "reasons": [...],
 * "bounds": { "medianShift", "acceptRateShift" } }. Key = the candidate's id.
 */
export const CANARY_ALERT_SCHEMA = 'diffiqa.canary-alert/v1';

export interface CanaryAlert extends CanaryEvent, AlertEnvelope {
  schema: typeof CANARY_ALERT_SCHEMA;
}

export function canaryAlert(e: CanaryEvent, service: string, o: AlertBounds): CanaryAlert {
  return { schema: CANARY_ALERT_SCHEMA, ...e, ...envelope(service, o) };
}

export type Alert = DriftAlert | CanaryAlert;

const alertKey = (alert: Alert): string => (alert.schema === DRIFT_ALERT_SCHEMA ? alert.cameraId : alert.candidate);

export function alertRecord(alert: Alert, topic: string, headers: Record<string, string> = {}): OutRecord {
  return { topic, key: alertKey(alert), value: Buffer.from(JSON.stringify(alert)), headers: { 'content-type': 'application/json', ...headers } };
}

function alertLine(alert: Alert): [Record<string, unknown>, string] {
  if (alert.schema === DRIFT_ALERT_SCHEMA) {
    return [{ cameraId: alert.cameraId, type: alert.type, reasons: alert.reasons, medianShift: alert.medianShift, acceptRateShift: alert.acceptRateShift }, `camera ${alert.type === 'drift' ? 'drifts from' : 'is back at'} its baseline`];
  }
  const { medianShift, acceptRateShift, agreement } = alert.summary;
  return [{ candidate: alert.candidate, regressor: alert.regressor, type: alert.type, reasons: alert.reasons, medianShift, acceptRateShift, agreement }, `canary candidate ${alert.type === 'diverged' ? 'diverges from' : 'is back in line with'} the regressor`];
}

/**
 * Sends alerts on a producer of its own, one at a time and off the frame path: an alert is
 * advice, so a broker hiccup costs at most that alert (logged and counted), never a frame.
 */
export class AlertPublisher {
  readonly #producer: ProducerPort;
  readonly #topic: string;
  readonly #log?: Logger;
  #chain: Promise<void> = Promise.resolve();
  #connected?: Promise<void>;
  #closed?: Promise<void>;
  onFailure?: (err: unknown) => void;
  sent = 0;

  constructor(producer: ProducerPort, topic: string, log?: Logger) {
    this.#producer = producer;
    this.#topic = topic;
    this.#log = log;
  }

  publish(alert: Alert, headers?: Record<string, string>): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#chain = this.#chain.then(async () => {
      try {
        await (this.#connected ??= this.#producer.connect());
        await this.#producer.send([alertRecord(alert, this.#topic, headers)]);
        this.sent++;
        this.#log?.warn(...alertLine(alert));
      } catch (err) {
        this.#connected = undefined;
        this.onFailure?.(err);
        this.#log?.error({ err, key: alertKey(alert) }, `${alert.schema === DRIFT_ALERT_SCHEMA ? 'drift' : 'canary'} alert could not be published`);
      }
    });
    return this.#chain;
  }

  /** Resolves once every alert published so far was sent (or failed). */
  flush(): Promise<void> {
    return this.#chain;
  }

  /** Idempotent: sends what is queued, then disconnects. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#chain;
      if (this.#connected) await this.#producer.disconnect().catch(() => undefined);
    })();
    return this.#closed;
  }
}

import { pino, destination, type DestinationStream, type Logger } from 'pino';

export type { Logger };

let contextFields: () => Record<string, unknown> = () => ({});

/**
 * Telemetry installs this so that lines logged inside a frame's span carry trace_id/span_id;
 * the core stays free of OpenTelemetry. Applies to loggers created before and after the call.
 */
export function setLogContext(fields: () => Record<string, unknown>): void {
  contextFields = fields;
}

/** Structured JSON logs on stderr (stdout is for command output such as `score` lines). */
export function createLogger(level: string, name = 'diffiqa-gate', dest: DestinationStream = destination(2)): Logger {
  return pino({ name, level, base: { pid: process.pid }, mixin: () => contextFields() }, dest);
}

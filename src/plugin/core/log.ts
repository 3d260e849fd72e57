import { pino, destination, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stderr (stdout is for command output such as `score` lines). */
export function createLogger(level: string, name = 'diffiqa-gate'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, destination(2));
}

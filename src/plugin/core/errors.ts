/**
 * One catalogue of error codes. Callers branch on `code`, never on messages.
 * `canRetry` says whether the same input could succeed later (transient) — bad input never can.
 */
export const errorCodes = {
  // Input: the message itself is bad. Goes to the DLQ, never retried.
  INPUT_AVRO_DECODE: false,
  INPUT_UNKNOWN_SCHEMA: false,
  INPUT_NOT_WIRE_FORMAT: false,
  INPUT_TOO_LARGE: false,
  INPUT_EMPTY_IMAGE: false,
  INPUT_IMAGE_DECODE: false,
  INPUT_IMAGE_FORMAT: false,
  INPUT_IMAGE_TOO_MANY_PIXELS: false,
  INPUT_IMAGE_TOO_SMALL: false,
  INPUT_BAD_LANDMARKS: false,
  INPUT_NO_FACE: false,
  INPUT_BAD_HEADER: false,
  // A file named on the command line (score) does not exist.
  FILE_NOT_FOUND: false,
  // Models and assets: configuration or environment problems.
  ASSET_NOT_FOUND: false,
  ASSET_CHECKSUM: false,
  ASSET_DOWNLOAD: true,
  MODEL_UNKNOWN: false,
  MODEL_LOAD: false,
  MODEL_OUTPUT: false,
  // Runtime: may succeed later.
  INFER_FAILED: true,
  // The worker thread running the batch died; the pool starts another one.
  INFER_WORKER_DIED: true,
  INFER_QUEUE_FULL: true,
  INFER_CLOSED: false,
  INFER_TIMEOUT: true,
  REGISTRY_HTTP: true,
  REGISTRY_NOT_FOUND: false,
  KAFKA_NETWORK: true,
  KAFKA_PRODUCE: true,
  // The broker refused a record or batch as larger than its limit: the same bytes never fit.
  KAFKA_TOO_LARGE: false,
  // This member lost a partition's transactional id (ProducerFenced, old epoch): it owns the work no more.
  KAFKA_FENCED: false,
  KAFKA_TOPIC_MISSING: false,
  // The gate cannot go on (a publish that can never succeed, retry budget spent): exit 4.
  GATE_FATAL: false,
  CONFIG_INVALID: false,
  USAGE: false,
  INTERNAL: false,
} as const satisfies Record<string, boolean>;

export type ErrorCode = keyof typeof errorCodes;

export class GateError extends Error {
  readonly code: ErrorCode;
  readonly canRetry: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown>; canRetry?: boolean } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'GateError';
    this.code = code;
    this.canRetry = opts.canRetry ?? errorCodes[code];
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, canRetry: this.canRetry, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Wraps anything thrown into a GateError so a frame always carries a code. */
export function toGateError(err: unknown, fallback: ErrorCode = 'INTERNAL'): GateError {
  if (err instanceof GateError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GateError(fallback, message, { cause: err });
}

export function isInputError(code: ErrorCode): boolean {
  return code.startsWith('INPUT_');
}

import type { KafkaMessage, logCreator, logLevel as LogLevel } from 'kafkajs';
import { logLevel as KafkaLogLevel } from './kafkajs-lib.js';
import { GateError, type ErrorCode } from '../core/errors.js';
import type { KafkaRecord } from './port.js';

/** The slice of a pino logger the adapter needs; pino's `Logger` fits it. */
export interface KafkaLogger {
  level?: string;
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export type KafkaLogLevelName = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

const levels: Record<KafkaLogLevelName, LogLevel> = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
};

/** kafkajs's level for a logger level name; pino's trace/fatal/silent map to the nearest one. */
export function kafkaLogLevel(name: string | undefined): LogLevel {
  if (name === undefined) return KafkaLogLevel.WARN;
  if (name in levels) return levels[name as KafkaLogLevelName];
  return name === 'trace' ? KafkaLogLevel.DEBUG : name === 'fatal' ? KafkaLogLevel.ERROR : KafkaLogLevel.NOTHING;
}

// The adapter replaces an idempotent producer after a failed send (fresh producer id), which
// is what kafkajs's warning about limited retries is about: not worth a warning per producer.
const quiet = /Limiting retries for the idempotent producer/;

function retriable(log: Record<string, unknown>): boolean {
  return /^Response /.test(String(log.message)) || log.retryCount !== undefined;
}

/** Routes kafkajs's logs into the gate's logger instead of the console. */
export function kafkaLogCreator(logger: KafkaLogger | undefined): logCreator {
  return () => ({ namespace, level, log }) => {
    if (!logger) return;
    const { message } = log;
    // The gate's logger stamps its own time.
    const fields: Record<string, unknown> = { component: 'kafkajs', namespace, ...log };
    delete fields.message;
    delete fields.timestamp;
    // kafkajs logs every retriable broker answer as an error (coordinator loading, topic exists,
    // rebalance in progress) and retries it: the adapter surfaces real failures as GateErrors,
    // so a logged response error is a warning here.
    if (level === KafkaLogLevel.ERROR && !retriable(log)) logger.error(fields, message);
    else if (level === KafkaLogLevel.ERROR) logger.warn(fields, message);
    else if (level === KafkaLogLevel.WARN && !quiet.test(message)) logger.warn(fields, message);
    else if (level === KafkaLogLevel.INFO) logger.info(fields, message);
    else logger.debug(fields, message);
  };
}

interface KafkajsErrorLike {
  name?: string;
  type?: string;
  retriable?: boolean;
  message?: string;
  cause?: unknown;
}

const networkNames = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSLockTimeout',
]);

/** Group-membership errors: the group moved on, so the member's batches are void (not a failure). */
const groupTypes = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'NOT_COORDINATOR_FOR_GROUP']);

function chain(err: unknown): KafkajsErrorLike[] {
  const out: KafkajsErrorLike[] = [];
  for (let e = err as KafkajsErrorLike | undefined; e && typeof e === 'object' && out.length < 8; e = e.cause as KafkajsErrorLike | undefined) {
    out.push(e);
  }
  return out;
}

export function isGroupMembershipError(err: unknown): boolean {
  return chain(err).some((e) => e.type !== undefined && groupTypes.has(e.type));
}

/**
 * The member is out of its generation and kafkajs rejoins (starting every partition again from its
 * committed offset). NOT_COORDINATOR is left out: the coordinator moved, the member may still be in.
 */
const rejoinTypes = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

export function isOutOfGeneration(err: unknown): boolean {
  return chain(err).some((e) => e.type !== undefined && rejoinTypes.has(e.type));
}

/** The broker refuses these bytes for their size: sending them again can never succeed. */
const tooLargeTypes = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
/**
 * The transactional id moved on: another member initialised it (or the coordinator bumped its
 * epoch). The member no longer owns the partition's work, and must not initialise the id again.
 */
const fencedTypes = new Set(['INVALID_PRODUCER_EPOCH', 'TRANSACTION_COORDINATOR_FENCED', 'PRODUCER_FENCED']);
const missingTopicTypes = new Set(['UNKNOWN_TOPIC_OR_PARTITION']);

function classify(errs: KafkajsErrorLike[], code: 'KAFKA_NETWORK' | 'KAFKA_PRODUCE'): ErrorCode {
  const has = (types: Set<string>) => errs.some((e) => e.type !== undefined && types.has(e.type));
  if (has(fencedTypes)) return 'KAFKA_FENCED';
  if (has(tooLargeTypes)) return 'KAFKA_TOO_LARGE';
  if (errs.some((e) => e.name !== undefined && networkNames.has(e.name))) return 'KAFKA_NETWORK';
  return code;
}

/** True when the broker answered that the topic (or partition) does not exist. */
export function isMissingTopicError(err: unknown): boolean {
  return chain(err).some((e) => e.type !== undefined && missingTopicTypes.has(e.type));
}

/**
 * A GateError for a kafkajs failure: KAFKA_FENCED (transactional id lost), KAFKA_TOO_LARGE (the
 * broker's size limit), KAFKA_NETWORK when no broker answered, else `code`.
 */
export function toKafkaGateError(err: unknown, code: 'KAFKA_NETWORK' | 'KAFKA_PRODUCE', what: string): GateError {
  if (err instanceof GateError) return err;
  const errs = chain(err);
  const root = errs[errs.length - 1] ?? {};
  const classified = classify(errs, code);
  const network = classified === 'KAFKA_NETWORK';
  return new GateError(classified, `${what}: ${root.message ?? String(err)}`, {
    cause: err,
    // kafkajs marks protocol errors such as MESSAGE_TOO_LARGE as not retriable.
    canRetry: root.retriable === false && !network ? false : undefined,
    details: { kafkajs: root.name, type: root.type },
  });
}

/** A header sent several times keeps its last value, as the port promises. */
export function toKafkaRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  const headers: Record<string, Buffer | undefined> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    headers[k] = last === undefined ? undefined : Buffer.isBuffer(last) ? last : Buffer.from(last);
  }
  return { topic, partition, offset: m.offset, key: m.key ?? null, value: m.value ?? null, headers, timestamp: m.timestamp };
}

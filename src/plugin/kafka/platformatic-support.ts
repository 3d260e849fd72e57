import { FetchIsolationLevels, IS_CONTROL, type Consumer } from '@platformatic/kafka';
import { GateError, type ErrorCode } from '../core/errors.js';
import type { KafkaRecord, OutRecord } from './port.js';

interface PltErrorLike {
  code?: string;
  apiId?: string;
  canRetry?: boolean;
  message?: string;
  cause?: unknown;
  errors?: unknown[];
}

/** The error and everything under it: platformatic nests protocol errors in MultipleErrors/ResponseError. */
function tree(err: unknown, out: PltErrorLike[] = []): PltErrorLike[] {
  if (!err || typeof err !== 'object' || out.length > 32) return out;
  const e = err as PltErrorLike;
  out.push(e);
  if (Array.isArray(e.errors)) for (const sub of e.errors) tree(sub, out);
  if (e.cause) tree(e.cause, out);
  return out;
}

const apiIds = (err: unknown): Set<string> => new Set(tree(err).flatMap((e) => (e.apiId ? [e.apiId] : [])));

const tooLarge = ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'];
const fenced = ['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTION_COORDINATOR_FENCED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'];
const rejoin = ['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'MEMBER_ID_REQUIRED'];
const network = new Set(['PLT_KFK_NETWORK', 'PLT_KFK_TIMEOUT']);

/** The member is out of its generation: its batches are void and its commits refused. */
export function isOutOfGeneration(err: unknown): boolean {
  const ids = apiIds(err);
  return rejoin.some((id) => ids.has(id));
}

export function hasApiId(err: unknown, id: string): boolean {
  return apiIds(err).has(id);
}

/** A GateError for a platformatic failure: KAFKA_FENCED, KAFKA_TOO_LARGE, KAFKA_NETWORK when no broker answered, else `code`. */
export function toKafkaGateError(err: unknown, code: 'KAFKA_NETWORK' | 'KAFKA_PRODUCE', what: string): GateError {
  if (err instanceof GateError) return err;
  const errs = tree(err);
  const ids = apiIds(err);
  let classified: ErrorCode = code;
  if (fenced.some((id) => ids.has(id))) classified = 'KAFKA_FENCED';
  else if (tooLarge.some((id) => ids.has(id))) classified = 'KAFKA_TOO_LARGE';
  else if (errs.some((e) => e.code !== undefined && network.has(e.code))) classified = 'KAFKA_NETWORK';
  const protocol = errs.find((e) => e.apiId !== undefined);
  const canRetry = classified === 'KAFKA_TOO_LARGE' || classified === 'KAFKA_FENCED' ? false : protocol?.canRetry === false && classified !== 'KAFKA_NETWORK' ? false : undefined;
  return new GateError(classified, `${what}: ${protocol?.message ?? errs[0]?.message ?? String(err)}`, {
    cause: err,
    canRetry,
    details: { platformatic: errs[0]?.code, apiId: protocol?.apiId },
  });
}

/** platformatic's message shape for an OutRecord (its serialisers are the no-op ones: Buffers in, Buffers out). */
export function toMessage(r: OutRecord): { topic: string; key?: Buffer; value: Buffer; headers?: Map<Buffer, Buffer>; partition?: number } {
  const headers = r.headers ? new Map(Object.entries(r.headers).map(([k, v]) => [Buffer.from(k), Buffer.isBuffer(v) ? v : Buffer.from(v)])) : undefined;
  const key = r.key === null ? undefined : Buffer.isBuffer(r.key) ? r.key : Buffer.from(r.key);
  return { topic: r.topic, key, value: r.value, headers, partition: r.partition };
}

export interface PartitionFetch {
  topic: string;
  partition: number;
  /** The position to fetch from. */
  offset: bigint;
}

export interface FetchedPartition {
  records: KafkaRecord[];
  /** Past the last batch the broker returned, transaction markers and aborted records included. */
  next: bigint;
}

export const fetchKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * One Fetch round for the given positions, one request per partition leader (a consumer without
 * group suffices). platformatic filters aborted transactions for read_committed; markers are
 * skipped here and counted in `next`, so a position moves past them.
 */
export async function fetchRound(consumer: Consumer, wanted: PartitionFetch[], opts: { maxWaitMs: number; readCommitted: boolean; maxBytes?: number }): Promise<Map<string, FetchedPartition>> {
  const out = new Map<string, FetchedPartition>();
  if (wanted.length === 0) return out;
  const topics = [...new Set(wanted.map((w) => w.topic))];
  const metadata = await consumer.metadata({ topics });
  const byLeader = new Map<number, Map<string, { topicId: string; partitions: { partition: number; fetchOffset: bigint; partitionMaxBytes: number; currentLeaderEpoch: number; lastFetchedEpoch: number }[] }>>();
  const idToTopic = new Map<string, string>();
  const requested = new Map<string, bigint>();
  for (const w of wanted) {
    const t = metadata.topics.get(w.topic);
    const p = t?.partitions[w.partition];
    if (!t || !p) continue;
    idToTopic.set(t.id, w.topic);
    requested.set(fetchKey(w.topic, w.partition), w.offset);
    const leader = byLeader.get(p.leader) ?? new Map();
    byLeader.set(p.leader, leader);
    const entry = leader.get(w.topic) ?? { topicId: t.id, partitions: [] };
    leader.set(w.topic, entry);
    entry.partitions.push({ partition: w.partition, fetchOffset: w.offset, partitionMaxBytes: opts.maxBytes ?? 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 });
  }
  const isolationLevel = opts.readCommitted ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED;
  const responses = await Promise.all([...byLeader].map(([node, ts]) =>
    consumer.fetch({ node, topics: [...ts.values()], maxWaitTime: opts.maxWaitMs, minBytes: 1, maxBytes: (opts.maxBytes ?? 1 << 20) * 4, isolationLevel }),
  ));
  for (const res of responses) {
    for (const t of res.responses) {
      const topic = idToTopic.get(t.topicId);
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        const key = fetchKey(topic, p.partitionIndex);
        const from = requested.get(key) ?? 0n;
        const got: FetchedPartition = { records: [], next: from };
        for (const batch of p.records ?? []) {
          const end = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
          if (end > got.next) got.next = end;
          if (batch.attributes & IS_CONTROL) continue;
          for (const r of batch.records) {
            const offset = batch.firstOffset + BigInt(r.offsetDelta);
            if (offset < from) continue;
            const headers: Record<string, Buffer | undefined> = {};
            for (const [k, v] of r.headers) if (k) headers[k.toString()] = v ?? undefined;
            got.records.push({
              topic, partition: p.partitionIndex, offset: String(offset), key: r.key ?? null, value: r.value ?? null, headers,
              timestamp: String(batch.firstTimestamp + r.timestampDelta),
            });
          }
        }
        out.set(key, got);
      }
    }
  }
  return out;
}

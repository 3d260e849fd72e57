import { FetchIsolationLevels, IS_CONTROL, IS_TRANSACTIONAL, kGetApi, kGetConnection, type Broker, type Connection, type Consumer } from '@platformatic/kafka';
import { filterAbortedMessages, type FetchedMessage } from './aborted.js';
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

/** The record's key as platformatic takes it: a Buffer, or undefined for none. */
export const keyBuffer = (r: OutRecord): Buffer | undefined => (r.key === null ? undefined : Buffer.isBuffer(r.key) ? r.key : Buffer.from(r.key));

/** platformatic's message shape for an OutRecord (its serialisers are the no-op ones: Buffers in, Buffers out). */
export function toMessage(r: OutRecord): { topic: string; key?: Buffer; value: Buffer; headers?: Map<Buffer, Buffer>; partition?: number } {
  const headers = r.headers ? new Map(Object.entries(r.headers).map(([k, v]) => [Buffer.from(k), Buffer.isBuffer(v) ? v : Buffer.from(v)])) : undefined;
  return { topic: r.topic, key: keyBuffer(r), value: r.value, headers, partition: r.partition };
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

interface RawBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  attributes: number;
  producerId: bigint;
  firstTimestamp: bigint;
  records: { offsetDelta: number; timestampDelta: bigint; key?: Buffer | null; value?: Buffer | null; headers: [Buffer | null, Buffer | null][] }[];
}

interface RawPartition { partitionIndex: number; records?: RawBatch[]; abortedTransactions?: { producerId: bigint; firstOffset: bigint }[] }

/** A record of a fetched batch, in the shape the aborted-transaction filter reads, carrying the port's record. */
interface Fetched extends FetchedMessage { record?: KafkaRecord }

/**
 * One Fetch round for the given positions, one request per partition leader (a consumer without
 * group suffices). Markers are skipped here and counted in `next`, so a position moves past them.
 * read_committed: the broker stops at the last stable offset and lists the aborted transactions;
 * their records are dropped here (aborted.ts), from the raw answer.
 */
export async function fetchRound(consumer: Consumer, wanted: PartitionFetch[], opts: { maxWaitMs: number; readCommitted: boolean; maxBytes?: number }): Promise<Map<string, FetchedPartition>> {
  const out = new Map<string, FetchedPartition>();
  for (const [key, { want, part }] of await fetchRaw(consumer, wanted, opts)) {
    const got = toFetched(want, part.records ?? []);
    const aborted = opts.readCommitted ? (part.abortedTransactions ?? []).map((a) => ({ producerId: String(a.producerId), firstOffset: String(a.firstOffset) })) : [];
    const records = filterAbortedMessages({ messages: got.records, abortedTransactions: aborted });
    out.set(key, { records: records.flatMap((m) => (m.record ? [m.record] : [])), next: got.next });
  }
  return out;
}

/**
 * The raw partitions of one Fetch per leader, by fetchKey. The Fetch API is called directly, not
 * through consumer.fetch(): platformatic 1.35 filters read_committed answers itself, wrongly (see
 * aborted.ts), and throws from inside its socket callback on an abort marker whose transaction the
 * broker did not list (a producer killed between AddPartitionsToTxn and Produce leaves one): an
 * uncaught TypeError that killed the process or left the fetch unanswered (seen in the exactly-once
 * SIGKILL test). Its fix ships only in 2.x, which needs Node 22.
 */
async function fetchRaw(consumer: Consumer, wanted: PartitionFetch[], opts: { maxWaitMs: number; readCommitted: boolean; maxBytes?: number }): Promise<Map<string, { want: PartitionFetch; part: RawPartition }>> {
  const out = new Map<string, { want: PartitionFetch; part: RawPartition }>();
  if (wanted.length === 0) return out;
  const topics = [...new Set(wanted.map((w) => w.topic))];
  const metadata = await consumer.metadata({ topics });
  const byLeader = new Map<number, Map<string, FetchTopic>>();
  const idToTopic = new Map<string, string>();
  const requested = new Map<string, PartitionFetch>();
  for (const w of wanted) {
    const t = metadata.topics.get(w.topic);
    const p = t?.partitions[w.partition];
    if (!t || !p) continue;
    idToTopic.set(t.id, w.topic);
    requested.set(fetchKey(w.topic, w.partition), w);
    const leader = byLeader.get(p.leader) ?? new Map<string, FetchTopic>();
    byLeader.set(p.leader, leader);
    const entry = leader.get(w.topic) ?? { topicId: t.id, partitions: [] };
    leader.set(w.topic, entry);
    entry.partitions.push({ partition: w.partition, fetchOffset: w.offset, partitionMaxBytes: opts.maxBytes ?? 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 });
  }
  const isolationLevel = opts.readCommitted ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED;
  const api = await protocolApi<FetchApi>(consumer, 'Fetch');
  const responses = await Promise.all([...byLeader].map(async ([node, ts]) => {
    const connection = await connectionTo(consumer, metadata.brokers, node, 'partition leader');
    return viaCallback<FetchResponse>((cb) => api(connection, opts.maxWaitMs, 1, (opts.maxBytes ?? 1 << 20) * 4, isolationLevel, 0, 0, [...ts.values()], [], '', cb));
  }));
  for (const res of responses) {
    for (const t of res.responses) {
      const topic = idToTopic.get(t.topicId);
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        const key = fetchKey(topic, p.partitionIndex);
        const want = requested.get(key);
        if (want) out.set(key, { want, part: p });
      }
    }
  }
  return out;
}

/** Every record of the batches from the wanted position on, control records included (without a port record), and where the batches end. */
function toFetched(want: PartitionFetch, batches: RawBatch[]): { records: Fetched[]; next: bigint } {
  const records: Fetched[] = [];
  let next = want.offset;
  for (const batch of batches) {
    const end = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
    if (end > next) next = end;
    const control = (batch.attributes & IS_CONTROL) !== 0;
    const batchContext = { producerId: String(batch.producerId), inTransaction: (batch.attributes & IS_TRANSACTIONAL) !== 0 };
    for (const r of batch.records) {
      const offset = batch.firstOffset + BigInt(r.offsetDelta);
      if (offset < want.offset) continue;
      const m: Fetched = { offset: String(offset), key: r.key ?? null, isControlRecord: control, batchContext };
      if (!control) {
        const headers: Record<string, Buffer | undefined> = {};
        for (const [k, v] of r.headers) if (k) headers[k.toString()] = v ?? undefined;
        m.record = {
          topic: want.topic, partition: want.partition, offset: String(offset), key: r.key ?? null, value: r.value ?? null, headers,
          timestamp: String(batch.firstTimestamp + r.timestampDelta),
        };
      }
      records.push(m);
    }
  }
  return { records, next };
}

type Cb<T> = (error: Error | null, value: T) => void;
type OffsetCommitApi = (connection: Connection, groupId: string, generationId: number, memberId: string, groupInstanceId: null,
  topics: { name: string; partitions: { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: null }[] }[], cb: Cb<unknown>) => void;
interface FetchTopic { topicId: string; partitions: { partition: number; fetchOffset: bigint; partitionMaxBytes: number; currentLeaderEpoch: number; lastFetchedEpoch: number }[] }
interface FetchResponse { responses: { topicId: string; partitions: RawPartition[] }[] }
type FetchApi = (connection: Connection, maxWaitMs: number, minBytes: number, maxBytes: number, isolationLevel: number, sessionId: number, sessionEpoch: number,
  topics: FetchTopic[], forgottenTopicsData: never[], rackId: string, cb: Cb<FetchResponse>) => void;
interface Internals {
  [kGetConnection](broker: Broker, cb: Cb<Connection>): void;
  [kGetApi](name: string, cb: Cb<unknown>): void;
}

const viaCallback = <T>(f: (cb: Cb<T>) => void): Promise<T> => new Promise((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))));

/** One of the client's protocol APIs, at the version it agreed with the brokers. */
const protocolApi = <A>(consumer: Consumer, name: string): Promise<A> =>
  viaCallback<unknown>((cb) => (consumer as unknown as Internals)[kGetApi](name, cb)) as Promise<A>;

/** The client's connection to broker `nodeId` (`role` names it in the error when the metadata lacks it). */
async function connectionTo(consumer: Consumer, brokers: Map<number, Broker>, nodeId: number, role: string): Promise<Connection> {
  const broker = brokers.get(nodeId);
  if (!broker) throw new GateError('KAFKA_NETWORK', `the ${role} ${nodeId} is not in the metadata`);
  return viaCallback<Connection>((cb) => (consumer as unknown as Internals)[kGetConnection](broker, cb));
}

/**
 * OffsetCommit for one partition under the generation and member id the records were fetched in.
 * Not platformatic's commit(): on ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID or REBALANCE_IN_PROGRESS it
 * rejoins the group and commits again under the new generation, for a partition this member may
 * no longer hold: a member back from a pause moved the new holder's offset back (found by the
 * zombie integrity test: 704 duplicates against a bound of 128). Here the broker's refusal is the
 * answer (the caller fences and the records are redone); platformatic's heartbeat rejoins.
 */
export async function commitInGeneration(consumer: Consumer, o: { groupId: string; generationId: number; memberId: string; topic: string; partition: number; offset: bigint }): Promise<void> {
  const nodeId = await consumer.findGroupCoordinator();
  const connection = await connectionTo(consumer, (await consumer.metadata({ topics: [] })).brokers, nodeId, 'group coordinator');
  const api = await protocolApi<OffsetCommitApi>(consumer, 'OffsetCommit');
  await viaCallback((cb) => api(connection, o.groupId, o.generationId, o.memberId, null,
    [{ name: o.topic, partitions: [{ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: -1, committedMetadata: null }] }], cb));
}

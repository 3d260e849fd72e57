/**
 * The gate's narrow view of Kafka. Everything outside src/plugin/kafka/ talks to these interfaces,
 * so a second client (e.g. @confluentinc/kafka-javascript) or the in-memory fake can stand in.
 * Offsets are decimal strings: Kafka offsets are int64 and must not lose precision in a number.
 */

export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** A header sent several times under one name keeps its last value (Java's `lastHeader`). */
  headers: Record<string, Buffer | undefined>;
  /** Milliseconds since the epoch, as a decimal string. */
  timestamp: string;
}

export interface OutRecord {
  topic: string;
  key: Buffer | string | null;
  value: Buffer;
  headers?: Record<string, string | Buffer>;
  /** Explicit partition; otherwise the key's hash chooses (records without key are spread). */
  partition?: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/**
 * One fetched batch of one partition, handed to the gate. The consumer's position in the
 * partition moves only through `commit()` and `advance()`: when the handler returns, records
 * after the last committed/advanced offset are fetched again. That way a handler that stops early
 * (partition revoked, paused for backpressure, consumer stopping) loses nothing.
 */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: KafkaRecord[];
  /**
   * Commits `offset + 1` for this partition to the group and advances past `offset`.
   * At-least-once: call only after everything derived from offsets <= offset is acknowledged.
   * Resolves false when nothing was committed because the group moved on (the partition went to
   * another member, or the rebalance fenced this member): the records will be processed again
   * elsewhere, which at-least-once allows. Rejects (GateError KAFKA_NETWORK) only on other failures.
   * Never moves the committed offset backwards within one batch.
   */
  commit(offset: string): Promise<boolean>;
  /**
   * Moves this consumer past `offset` without committing it: for offsets committed elsewhere
   * (`sendInTransaction`) or committed later. Ignored once the batch is inactive.
   */
  advance(offset: string): void;
  /** Keeps the group membership alive in long handlers (the adapter also does it in the background). Never throws. */
  heartbeat(): Promise<void>;
  /** False once this partition was revoked, a rebalance began or the consumer is stopping: stop work on the batch and do not commit past what is done. */
  isActive(): boolean;
}

export interface RebalanceEvent {
  assigned: TopicPartition[];
  revoked: TopicPartition[];
}

export interface ConsumerPort {
  /** `fromBeginning` applies only where the group has no committed offset (default false: start at the end). */
  subscribe(topics: string[], opts?: { fromBeginning?: boolean }): Promise<void>;
  /**
   * Starts fetching; handler is called per partition batch, up to `concurrency` partitions at once,
   * never twice at once for one partition. Resolves once the consumer joined its group; rejects
   * (KAFKA_NETWORK) when it cannot. A handler that throws gets the records after the last
   * commit()/advance() again after a back-off: throw for transient failures only.
   */
  run(handler: (batch: PartitionBatch) => Promise<void>, opts: { concurrency: number }): Promise<void>;
  /** Stops deliveries of these partitions after the batches in flight; kept across rebalances, may be called before run(). */
  pause(tps: TopicPartition[]): void;
  resume(tps: TopicPartition[]): void;
  assignment(): TopicPartition[];
  /**
   * A token of this member's hold on the partition, undefined while it holds none (not assigned,
   * rebalancing, fenced, stopping). It changes whenever the client starts the partition again from
   * its committed offset (kafkajs: every group join; memory: each new assignment), so work handed
   * in under an older token is fetched again and must not be published (exactly-once drops it).
   */
  ownership(topic: string, partition: number): number | undefined;
  /**
   * `ownership()`, confirmed by the group coordinator: a heartbeat unless one succeeded within the
   * heartbeat interval. Undefined when the member has left the generation that held the partition
   * (evicted, rebalancing: it rejoins and starts from the committed offset). Rejects (KAFKA_NETWORK,
   * retriable) when the coordinator cannot say; never answers undefined for that.
   */
  confirmOwnership(topic: string, partition: number): Promise<number | undefined>;
  /** Called after each change of assignment, including the empty one at stop() (kafkajs: from GROUP_JOIN and CRASH events). */
  onRebalance(cb: (e: RebalanceEvent) => void): void;
  /** The client gave up on the consumer (`restarting` false) or restarts it after a failure. */
  onCrash(cb: (err: Error, restarting: boolean) => void): void;
  /** Stop fetching; wait for running handlers to return; leave the group; idempotent. */
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface TransactionOffsets {
  groupId: string;
  topic: string;
  partition: number;
  /** The last input offset the records derive from (like `commit`): the group gets `offset + 1`. */
  offset: string;
  /**
   * Asked before the transactional producer is used (and initialised) and again right before the
   * commit: false aborts the transaction with KAFKA_FENCED. kafkajs has no KIP-447, so this is
   * what keeps a member that lost the partition (a zombie) from committing, or from initialising
   * the partition's transactional id again, which would fence the real owner.
   */
  confirm?: () => Promise<boolean>;
}

export interface ProducerPort {
  connect(): Promise<void>;
  /** Resolves when every record is acknowledged (acks=all, idempotent). Rejects with GateError KAFKA_PRODUCE/KAFKA_NETWORK. */
  send(records: OutRecord[]): Promise<void>;
  /**
   * Exactly-once: the records and the consumer offset in one transaction; all or nothing for
   * read_committed readers, who see them once the broker has written the commit markers (moments
   * after this resolves; the group's offset likewise). Present only on producers created with `transactionalIdPrefix`
   * (kafkajs: one transactional producer per input partition, which is how it fences zombies).
   * The batch still needs `advance(offset)`: the consumer's position is separate from the group's offset.
   */
  sendInTransaction?(records: OutRecord[], offsets: TransactionOffsets): Promise<void>;
  disconnect(): Promise<void>;
}

export interface AdminPort {
  /** Idempotent: an existing topic is left as it is (even with another partition count). */
  createTopics(topics: { topic: string; partitions: number }[]): Promise<void>;
  /** Only partitions with a committed offset appear. */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, string>>;
  /** The last stable offset per partition: the high watermark unless a transaction is open. */
  endOffsets(topic: string): Promise<Map<number, string>>;
  /**
   * Reads all records of a topic from the beginning up to the end offsets at call time, sorted by
   * partition then offset (for tests, demo summaries and integrity checks). `readCommitted`
   * (default true) leaves out records of aborted transactions. Rejects after `timeoutMs`.
   */
  readAll(topic: string, opts?: { readCommitted?: boolean; timeoutMs?: number }): Promise<KafkaRecord[]>;
  /** Partitions of the topic; 0 when it does not exist (asked without creating it). */
  partitionCount(topic: string): Promise<number>;
  /** The topic's `max.message.bytes`: the largest record batch the broker accepts on it. */
  maxMessageBytes(topic: string): Promise<number>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  sessionTimeoutMs?: number;
  /** Default true: records of open or aborted transactions are not delivered. */
  readCommitted?: boolean;
}

export interface KafkaClient {
  consumer(opts: ConsumerOptions): ConsumerPort;
  producer(opts?: { transactionalIdPrefix?: string }): ProducerPort;
  admin(): AdminPort;
}

import { GateError } from '../core/errors.js';
import { MemoryCluster, type FaultOp, type MemoryClientOptions } from './memory-cluster.js';
import { MemoryConsumer } from './memory-consumer.js';
import { parseOffset, tpKey } from './offsets.js';
import type { AdminPort, ConsumerOptions, KafkaClient, KafkaRecord, OutRecord, ProducerPort, TransactionOffsets } from './port.js';

export type { MemoryClientOptions, FaultOp };

/** The official fake: an in-process Kafka for unit tests of everything above the port. */
export interface MemoryKafkaClient extends KafkaClient {
  /** Makes the next `times` operations of that kind fail with a retriable GateError (no record appended, no offset stored);
   *  `fence` instead makes the next commit answer false or heartbeat fence the member (see FaultOp). */
  failNext(op: FaultOp, times?: number): void;
  /** Injected faults of that kind not yet triggered. */
  faultsLeft(op: FaultOp): number;
}

export function createMemoryClient(options: MemoryClientOptions = {}): MemoryKafkaClient {
  const cluster = new MemoryCluster(options);
  return {
    consumer: (opts: ConsumerOptions) => new MemoryConsumer(cluster, opts),
    producer: (opts = {}) => (opts.transactionalIdPrefix ? new MemoryTransactionalProducer(cluster) : new MemoryProducer(cluster)),
    admin: () => new MemoryAdmin(cluster),
    failNext: (op, times = 1) => cluster.failNext(op, times),
    faultsLeft: (op) => cluster.faultsLeft(op),
  };
}

class MemoryProducer implements ProducerPort {
  protected readonly cluster: MemoryCluster;
  #closed = false;

  constructor(cluster: MemoryCluster) {
    this.cluster = cluster;
  }

  async connect(): Promise<void> {
    this.assertOpen();
  }

  async send(records: OutRecord[]): Promise<void> {
    this.assertOpen();
    await Promise.resolve();
    this.cluster.checkFault('send');
    this.cluster.append(records);
  }

  async disconnect(): Promise<void> {
    this.#closed = true;
  }

  protected assertOpen(): void {
    if (this.#closed) throw new GateError('KAFKA_PRODUCE', 'producer is disconnected', { canRetry: false });
  }
}

class MemoryTransactionalProducer extends MemoryProducer {
  async sendInTransaction(records: OutRecord[], offsets: TransactionOffsets): Promise<void> {
    this.assertOpen();
    const next = Number(parseOffset(offsets.offset)) + 1;
    await Promise.resolve();
    if (offsets.confirm && !(await offsets.confirm())) throw new GateError('KAFKA_FENCED', `${offsets.topic}[${offsets.partition}] is no longer this member's`);
    this.cluster.checkFault('transaction');
    const group = this.cluster.group(offsets.groupId);
    this.cluster.append(records, () => group.committed.set(tpKey(offsets.topic, offsets.partition), next));
  }
}

class MemoryAdmin implements AdminPort {
  readonly #cluster: MemoryCluster;

  constructor(cluster: MemoryCluster) {
    this.#cluster = cluster;
  }

  async createTopics(topics: { topic: string; partitions: number }[]): Promise<void> {
    for (const t of topics) this.#cluster.createTopic(t.topic, t.partitions);
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    const committed = this.#cluster.group(groupId).committed;
    const out = new Map<number, string>();
    this.#cluster.partitions(topic).forEach((_, p) => {
      const c = committed.get(tpKey(topic, p));
      if (c !== undefined) out.set(p, String(c));
    });
    return out;
  }

  async endOffsets(topic: string): Promise<Map<number, string>> {
    return new Map(this.#cluster.partitions(topic).map((log, p) => [p, String(log.length)]));
  }

  /** Transactions here are atomic, so there is never anything uncommitted to leave out. */
  async readAll(topic: string): Promise<KafkaRecord[]> {
    return this.#cluster.partitions(topic).flatMap((log, p) => this.#cluster.read(topic, p, 0, log.length));
  }

  async partitionCount(topic: string): Promise<number> {
    return this.#cluster.hasTopic(topic) ? this.#cluster.partitions(topic).length : 0;
  }

  async maxMessageBytes(): Promise<number> {
    return this.#cluster.options.maxMessageBytes;
  }

  async close(): Promise<void> {}
}

import { GateError } from '../core/errors.js';
import type { Frame } from '../core/frame.js';
import type { ConsumerPort, KafkaRecord, OutRecord, PartitionBatch, ProducerPort } from '../kafka/port.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { frameFromRecord } from './frames.js';

export interface GateOptions {
  groupId: string;
  inputTopic: string;
  /** Records of one partition in the pipeline at once; bounds duplicates after a crash too. */
  inFlightPerPartition: number;
  partitionsConcurrently: number;
  exactlyOnce: boolean;
}

export interface GateObserver {
  onChunk?(frames: Frame[], records: OutRecord[]): void;
  onCommit?(topic: string, partition: number, offset: string): void;
}

/** Frames of a chunk → output records; the caller publishes them. */
export type OutputBuilder = (frames: Frame[]) => Promise<OutRecord[]>;

/**
 * The consume → pipeline → publish → commit loop. At-least-once: a chunk's offsets are
 * committed only after every record derived from it is acknowledged. Exactly-once: records
 * and offsets go in one transaction. A revoked partition stops after its current chunk and
 * commits nothing past it.
 */
export class Gate {
  readonly #consumer: ConsumerPort;
  readonly #producer: ProducerPort;
  readonly #pipeline: Pipeline;
  readonly #build: OutputBuilder;
  readonly #o: GateOptions;
  readonly #abort = new AbortController();
  #stopped?: Promise<void>;
  #active = 0;
  observer?: GateObserver;
  readonly counts = { records: 0, published: 0, commits: 0 };

  constructor(consumer: ConsumerPort, producer: ProducerPort, pipeline: Pipeline, build: OutputBuilder, opts: GateOptions) {
    this.#consumer = consumer;
    this.#producer = producer;
    this.#pipeline = pipeline;
    this.#build = build;
    this.#o = opts;
  }

  get stopping(): boolean { return this.#abort.signal.aborted; }
  get activeBatches(): number { return this.#active; }

  async start(): Promise<void> {
    await this.#producer.connect();
    await this.#consumer.subscribe([this.#o.inputTopic], { fromBeginning: true });
    await this.#consumer.run((b) => this.#handle(b), { concurrency: this.#o.partitionsConcurrently });
  }

  pauseAll(): void { this.#consumer.pause(this.#consumer.assignment()); }
  resumeAll(): void { if (!this.stopping) this.#consumer.resume(this.#consumer.assignment()); }

  async #handle(batch: PartitionBatch): Promise<void> {
    this.#active++;
    try {
      const { records } = batch;
      for (let i = 0; i < records.length; i += this.#o.inFlightPerPartition) {
        if (this.stopping || !batch.isActive()) return;
        await this.#chunk(batch, records.slice(i, i + this.#o.inFlightPerPartition));
      }
    } finally {
      this.#active--;
    }
  }

  async #chunk(batch: PartitionBatch, records: KafkaRecord[]): Promise<void> {
    this.counts.records += records.length;
    const frames = await this.#pipeline.run(records.map(frameFromRecord), this.#abort.signal);
    if (this.stopping && frames.some((f) => f.error?.code === 'INFER_CLOSED')) {
      // Shut down mid-chunk: leave the chunk uncommitted so it is redone, not dead-lettered.
      return;
    }
    const out = await this.#build(frames);
    const last = records[records.length - 1].offset;
    if (this.#o.exactlyOnce) {
      if (!this.#producer.sendInTransaction) throw new GateError('CONFIG_INVALID', 'this Kafka client has no transactions');
      await this.#producer.sendInTransaction(out, { groupId: this.#o.groupId, topic: batch.topic, partition: batch.partition, offset: last });
      batch.advance(last);
    } else {
      await this.#producer.send(out);
      // false: the partition moved to another member, which redoes these records (at-least-once).
      if (!(await batch.commit(last))) return;
    }
    this.counts.published += out.length;
    this.counts.commits++;
    this.observer?.onChunk?.(frames, out);
    this.observer?.onCommit?.(batch.topic, batch.partition, last);
    await batch.heartbeat();
  }

  /** Stops fetching, lets running chunks publish and commit, within the deadline. Idempotent.
   *  Resolves true when drained cleanly, false when the deadline cut it short. */
  stop(deadlineMs: number): Promise<boolean> {
    const stopped = (this.#stopped ??= (async () => {
      this.#abort.abort();
      await this.#consumer.stop();
    })());
    return Promise.race([stopped.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), deadlineMs).unref())]);
  }
}

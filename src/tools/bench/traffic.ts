import type { AvroCodec } from '../../schemas/codec.js';
import { deadLetterType, faceQualityType, type DeadLetter, type FaceCrop, type FaceQuality } from '../../schemas/index.js';
import { valueSubject } from '../../schemas/registry.js';
import type { ConsumerPort, OutRecord, ProducerPort } from '../../plugin/kafka/port.js';
import type { BenchFace } from './faces.js';
import { sleep } from './stats.js';

/**
 * Camera-like FaceCrop messages (LFW JPEGs with their landmarks, as a camera's detector would
 * publish them), round-robin over the input partitions. captureTimestamp is stamped as each
 * record is encoded, right before its send: latency is measured from the producer's hand-off.
 */
export class Feeder {
  #n = 0;

  constructor(readonly producer: ProducerPort, readonly codec: AvroCodec, readonly topic: string, readonly faces: BenchFace[], readonly run: string, readonly partitions: number) {}

  get sent(): number { return this.#n; }

  async #records(count: number): Promise<OutRecord[]> {
    const out: OutRecord[] = [];
    for (let i = 0; i < count; i++, this.#n++) {
      const n = this.#n;
      const face = this.faces[n % this.faces.length];
      const cameraId = `cam-${(n % 4) + 1}`;
      const crop: FaceCrop = {
        cameraId, frameId: `${this.run}-${n}`, trackId: null, captureTimestamp: Date.now(), image: face.jpeg, imageFormat: 'JPEG',
        landmarks: face.landmarks.map(([x, y]) => ({ x, y })), detectorScore: null, bbox: null, metadata: {},
      };
      out.push({ topic: this.topic, key: cameraId, value: await this.codec.encode(valueSubject(this.topic), crop), partition: n % this.partitions });
    }
    return out;
  }

  /** As fast as the producer goes: a backlog the gate works through at saturation. */
  async burst(count: number, perSend = 100): Promise<void> {
    for (let left = count; left > 0; left -= perSend) await this.producer.send(await this.#records(Math.min(perSend, left)));
  }

  /** A fixed input rate for `seconds`: every few ms, whatever is due is sent. Returns frames sent. */
  async paced(ratePerSecond: number, seconds: number): Promise<number> {
    const start = this.#n;
    const t0 = performance.now();
    const total = Math.round(ratePerSecond * seconds);
    while (this.#n - start < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * ratePerSecond) + 1) - (this.#n - start);
      if (due > 0) await this.producer.send(await this.#records(due));
      else await sleep(2);
    }
    return total;
  }
}

export interface Outcome {
  captureTs: number;
  /** The final event's record timestamp (the gate's send). */
  eventTs: number;
  /** When the downstream watcher had it. */
  arrivedAt: number;
  /** From the event: ms from the gate's handler receiving the record to the event being built, and per stage (whole chunk). */
  inGateMs: number;
  stages: Record<string, number>;
  producedAt: number;
}

/** Downstream view: every final event (by frame id) with its timestamps, and dead letters. */
export class FinalWatcher {
  readonly finals = new Map<string, Outcome>();
  readonly dlqReasons = new Map<string, number>();
  duplicates = 0;

  constructor(readonly consumer: ConsumerPort, readonly codec: AvroCodec, readonly topics: { output: string; dlq: string }) {}

  get dlq(): number { return [...this.dlqReasons.values()].reduce((a, b) => a + b, 0); }
  get outcomes(): number { return this.finals.size + this.dlq; }

  async start(): Promise<void> {
    await this.consumer.subscribe([this.topics.output, this.topics.dlq], { fromBeginning: true });
    await this.consumer.run(async (batch) => {
      const arrivedAt = Date.now();
      for (const rec of batch.records) {
        if (!rec.value) continue;
        if (batch.topic === this.topics.dlq) {
          const d = await this.codec.decode<DeadLetter>(rec.value, deadLetterType);
          this.dlqReasons.set(d.reasonCode, (this.dlqReasons.get(d.reasonCode) ?? 0) + 1);
          continue;
        }
        const q = await this.codec.decode<FaceQuality>(rec.value, faceQualityType);
        if (!q.final) continue;
        if (this.finals.has(q.frameId)) { this.duplicates++; continue; }
        const { totalMs, ...stages } = q.timings;
        this.finals.set(q.frameId, { captureTs: q.captureTimestamp, eventTs: Number(rec.timestamp), arrivedAt, inGateMs: totalMs ?? NaN, stages, producedAt: q.producedAt });
      }
      // Advanced, not committed: the watcher's group is new each run, and a commit per small fetch
      // (2,600 per 5,000 frames) was broker work on the cores the measured gate runs on.
      if (batch.records.length) batch.advance(batch.records[batch.records.length - 1].offset);
    }, { concurrency: 6 });
  }

  async waitFor(count: number, timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    while (this.outcomes < count) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`only ${this.outcomes} of ${count} outcomes after ${timeoutMs} ms`);
      await sleep(5);
    }
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.consumer.disconnect();
  }
}

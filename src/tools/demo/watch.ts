import type { AvroCodec } from '../../schemas/codec.js';
import { deadLetterType, faceQualityType, type DeadLetter, type FaceQuality } from '../../schemas/index.js';
import type { ConsumerPort } from '../../plugin/kafka/port.js';

export interface CameraRow { in: number; ACCEPT: number; REJECT: number; BORDERLINE: number; escalated: number; dlq: number }

/** Tallies final events and dead letters as they arrive: the demo's view from downstream. */
export class OutcomeWatcher {
  readonly perCamera = new Map<string, CameraRow>();
  readonly latenciesMs: number[] = [];
  readonly dlqReasons = new Map<string, number>();
  readonly seen = new Set<string>();
  duplicates = 0;
  finals = 0;
  dlq = 0;

  constructor(readonly consumer: ConsumerPort, readonly codec: AvroCodec, readonly topics: { output: string; dlq: string }) {}

  row(camera: string): CameraRow {
    let r = this.perCamera.get(camera);
    if (!r) this.perCamera.set(camera, (r = { in: 0, ACCEPT: 0, REJECT: 0, BORDERLINE: 0, escalated: 0, dlq: 0 }));
    return r;
  }

  async start(): Promise<void> {
    await this.consumer.subscribe([this.topics.output, this.topics.dlq], { fromBeginning: true });
    await this.consumer.run(async (batch) => {
      for (const rec of batch.records) {
        if (!rec.value) continue;
        const sourceKey = rec.headers['diffiqa-source']?.toString() ?? `${rec.topic}/${rec.partition}/${rec.offset}`;
        if (batch.topic === this.topics.dlq) {
          const d = await this.codec.decode<DeadLetter>(rec.value, deadLetterType);
          if (this.#dup(sourceKey)) continue;
          this.dlq++;
          this.row(d.cameraId ?? rec.key?.toString() ?? '?').dlq++;
          this.dlqReasons.set(d.reasonCode, (this.dlqReasons.get(d.reasonCode) ?? 0) + 1);
        } else {
          const q = await this.codec.decode<FaceQuality>(rec.value, faceQualityType);
          if (!q.final) continue;
          if (this.#dup(sourceKey)) continue;
          this.finals++;
          const r = this.row(q.cameraId);
          r[q.decision]++;
          if (q.escalation !== 'NONE') r.escalated++;
          this.latenciesMs.push(Number(rec.timestamp) - q.captureTimestamp);
        }
      }
      await batch.commit(batch.records[batch.records.length - 1].offset);
    }, { concurrency: 6 });
  }

  #dup(key: string): boolean {
    if (this.seen.has(key)) { this.duplicates++; return true; }
    this.seen.add(key);
    return false;
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function renderTable(w: OutcomeWatcher, sent: Map<string, number>): string {
  const cams = [...new Set([...sent.keys(), ...w.perCamera.keys()])].sort();
  const lines = ['camera   sent  accept  reject  border  escal.  dlq', '-------  ----  ------  ------  ------  ------  ---'];
  for (const c of cams) {
    const r = w.row(c);
    lines.push(`${c.padEnd(7)}  ${String(sent.get(c) ?? 0).padStart(4)}  ${String(r.ACCEPT).padStart(6)}  ${String(r.REJECT).padStart(6)}  ${String(r.BORDERLINE).padStart(6)}  ${String(r.escalated).padStart(6)}  ${String(r.dlq).padStart(3)}`);
  }
  return lines.join('\n');
}

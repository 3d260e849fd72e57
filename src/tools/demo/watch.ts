import type { AvroCodec } from '../../schemas/codec.js';
import { deadLetterType, faceQualityType, type DeadLetter, type FaceQuality } from '../../schemas/index.js';
import type { ConsumerPort } from '../../plugin/kafka/port.js';

/**
 * Per camera: final decisions (ACCEPT, REJECT, BORDERLINE: still borderline at the end), and apart
 * from them the frames the regressor found borderline (`borderline`), of which full DifFIQA scored
 * `fullScored` (the others: skipped under overload, or escalation off).
 */
export interface CameraRow { in: number; ACCEPT: number; REJECT: number; BORDERLINE: number; borderline: number; fullScored: number; dlq: number }

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
    if (!r) this.perCamera.set(camera, (r = { in: 0, ACCEPT: 0, REJECT: 0, BORDERLINE: 0, borderline: 0, fullScored: 0, dlq: 0 }));
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
          this.tally(q, Number(rec.timestamp));
        }
      }
      await batch.commit(batch.records[batch.records.length - 1].offset);
    }, { concurrency: 6 });
  }

  /** Counts a final event, published at `publishedAt`. */
  tally(q: Pick<FaceQuality, 'cameraId' | 'decision' | 'escalation' | 'captureTimestamp'>, publishedAt: number): void {
    this.finals++;
    const r = this.row(q.cameraId);
    r[q.decision]++;
    // A final from full DifFIQA says ACCEPT or REJECT: the inline verdict is in `escalation`.
    if (q.escalation !== 'NONE' || q.decision === 'BORDERLINE') r.borderline++;
    if (q.escalation === 'ESCALATED') r.fullScored++;
    this.latenciesMs.push(publishedAt - q.captureTimestamp);
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

const COLUMNS = ['camera', 'sent', 'accept', 'reject', 'undec.', 'dlq', '|', 'border', '→full'] as const;

/** What each column counts, printed under the table. */
export const TABLE_LEGEND = [
  'accept, reject, undec.: final decision of each frame (undec.: still BORDERLINE at the end); + dlq = frames done',
  'border: frames the regressor found borderline, counted again on the left by their final decision; →full: of those, scored by full DifFIQA (the rest: skipped under overload)',
].join('\n');

export function renderTable(w: OutcomeWatcher, sent: Map<string, number>): string {
  const cams = [...new Set([...sent.keys(), ...w.perCamera.keys()])].sort();
  const rows: string[][] = cams.map((c) => {
    const r = w.row(c);
    return [c, sent.get(c) ?? 0, r.ACCEPT, r.REJECT, r.BORDERLINE, r.dlq, '|', r.borderline, r.fullScored].map(String);
  });
  const width = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((v, i) => (i === 0 ? v.padEnd(width[i]) : v.padStart(width[i]))).join('  ');
  return [line(COLUMNS), line(width.map((n, i) => (COLUMNS[i] === '|' ? '|' : '-'.repeat(n)))), ...rows.map(line)].join('\n');
}

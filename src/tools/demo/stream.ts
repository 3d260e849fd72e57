import type { AvroCodec } from '../../schemas/codec.js';
import { valueSubject } from '../../schemas/registry.js';
import type { FaceCrop } from '../../schemas/index.js';
import type { OutRecord, ProducerPort } from '../../plugin/kafka/port.js';
import { createRng } from '../../plugin/core/random.js';
import type { DemoCrop } from './cameras.js';

export interface StreamOptions {
  topic: string; cameras: number; ratePerSecond: number; badFraction: number;
  /** Picks which messages are broken and how: the same seed breaks the same frames every run. */
  seed: string;
  /** Frame ids and trace ids: unique per run, so runs never share a trace. */
  runId: string;
}

/** Kinds of broken input a real camera fleet produces; each must end in the DLQ with its code. */
const BAD_KINDS = ['truncated-jpeg', 'not-an-image', 'garbage-avro', 'empty-image'] as const;

/**
 * Publishes crops as several cameras would: keyed by camera id, with a W3C traceparent, at a
 * fixed rate, with a fraction of broken messages mixed in. Returns what was sent, per camera.
 */
export async function publishStream(producer: ProducerPort, codec: AvroCodec, crops: DemoCrop[], o: StreamOptions, onSent?: (n: number) => void): Promise<{ sent: number; bad: number; sentAt: Map<string, number> }> {
  const rng = createRng(o.seed);
  const ids = createRng(o.runId);
  const sentAt = new Map<string, number>();
  let bad = 0;
  const batchSize = Math.max(1, Math.round(o.ratePerSecond / 10));
  for (let i = 0; i < crops.length; i += batchSize) {
    const t0 = performance.now();
    const records: OutRecord[] = [];
    for (const [j, c] of crops.slice(i, i + batchSize).entries()) {
      const n = i + j;
      const cameraId = `cam-${(n % o.cameras) + 1}`;
      const frameId = `${o.runId}-${n}`;
      const traceparent = `00-${hex(ids, 32)}-${hex(ids, 16)}-01`;
      let value: Buffer;
      const kind = rng.uniform() < o.badFraction ? BAD_KINDS[Math.floor(rng.uniform() * BAD_KINDS.length)] : undefined;
      const crop: FaceCrop = {
        cameraId, frameId, trackId: `${cameraId}-t${Math.floor(n / 7)}`, captureTimestamp: Date.now(),
        image: c.jpeg, imageFormat: 'JPEG', landmarks: c.landmarks.map(([x, y]) => ({ x, y })),
        detectorScore: null, bbox: null, metadata: { degradation: c.degradation, source: c.source },
      };
      if (kind === 'truncated-jpeg') crop.image = c.jpeg.subarray(0, Math.floor(c.jpeg.length / 3));
      if (kind === 'not-an-image') crop.image = Buffer.from('this is not an image');
      if (kind === 'empty-image') crop.image = Buffer.alloc(0);
      value = await codec.encode(valueSubject(o.topic), crop);
      if (kind === 'garbage-avro') value = Buffer.concat([value.subarray(0, 5), Buffer.from('\xff\xff\xff\xff garbage')]);
      if (kind) bad++;
      sentAt.set(frameId, Date.now());
      records.push({ topic: o.topic, key: cameraId, value, headers: { traceparent, 'demo-kind': kind ?? c.degradation } });
    }
    await producer.send(records);
    onSent?.(records.length);
    const wait = (records.length / o.ratePerSecond) * 1000 - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return { sent: crops.length, bad, sentAt };
}

function hex(rng: ReturnType<typeof createRng>, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rng.uniform() * 16).toString(16);
  return s.replace(/^0+$/, '1');
}

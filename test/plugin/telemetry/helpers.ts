/** Frames and stages for the telemetry unit tests: no models, no Kafka. */
import { randomBytes } from 'node:crypto';
import { GateError } from '../../../src/plugin/core/errors.js';
import type { Frame } from '../../../src/plugin/core/frame.js';
import type { Stage } from '../../../src/plugin/core/stage.js';
import { frameFromRecord } from '../../../src/plugin/gate/frames.js';

export const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export function traceparent(traceId = hex(16), spanId = hex(8)): { header: string; traceId: string; spanId: string } {
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

export function frameAt(offset: number, headers: Record<string, string> = {}, key = `cam-${offset % 2}`): Frame {
  return frameFromRecord({
    topic: 'in', partition: offset % 3, offset: String(offset), key: Buffer.from(key), value: Buffer.from('v'),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])), timestamp: String(Date.now()),
  });
}

/** A stage that applies fn to every frame (fn may throw to fail just that frame). */
export function stage(name: string, fn: (f: Frame) => void = () => undefined): Stage {
  return {
    name,
    async process(frames) {
      await new Promise((r) => setTimeout(r, 1));
      for (const f of frames) {
        if (f.error) continue;
        try { fn(f); } catch (err) { f.error = err as GateError; f.errorStage = name; }
      }
      return frames;
    },
    async close() {},
  };
}

export const decodeStage = () => stage('decode', (f) => {
  if (f.source!.offset === '13') throw new GateError('INPUT_AVRO_DECODE', 'bad bytes');
  f.id = `frame-${f.source!.offset}`;
  f.cameraId = f.source!.key!.toString();
});
export const inferStage = () => stage('regress', (f) => {
  f.regression = { score: 0.5 + Number(f.source!.offset) / 100, std: 0.01, modelId: 'reg', modelVersion: '1.2', executionProvider: 'cpu' };
});
export const decideStage = () => stage('decide', (f) => { f.decision = f.regression!.score >= 0.52 ? 'ACCEPT' : 'BORDERLINE'; });

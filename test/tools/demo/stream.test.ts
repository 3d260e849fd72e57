import { describe, expect, it } from 'vitest';
import { publishStream } from '../../../src/tools/demo/stream.js';
import type { DemoCrop } from '../../../src/tools/demo/cameras.js';
import { createCodec, embeddedRegistry } from '../../../src/plugin/pipeline/codecs.js';
import { createMemoryClient } from '../../../src/plugin/kafka/memory.js';

const topics = { input: 'in', output: 'out', escalation: 'esc', dlq: 'dlq' };
// The stream does not look inside the image: any bytes do.
const crops: DemoCrop[] = Array.from({ length: 120 }, (_, i) => ({
  jpeg: Buffer.from(`jpeg-${i}`), landmarks: [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]], degradation: 'none', source: `s${i}`,
}));

async function run(seed: string, runId: string) {
  const kafka = createMemoryClient();
  const producer = kafka.producer();
  await producer.connect();
  const codec = createCodec(await embeddedRegistry(), topics);
  const sent = await publishStream(producer, codec, crops, { topic: 'in', cameras: 3, ratePerSecond: 100_000, badFraction: 0.2, seed, runId });
  const records = await kafka.admin().readAll('in');
  return {
    bad: sent.bad,
    kinds: records.map((r) => r.headers['demo-kind']!.toString()),
    traces: records.map((r) => r.headers.traceparent!.toString()),
    frames: [...sent.sentAt.keys()],
  };
}

describe('publishStream', () => {
  it('the same seed should break the same frames in the same ways on every run, with other frame and trace ids', async () => {
    const a = await run('demo-stream', 'run-a');
    const b = await run('demo-stream', 'run-b');
    expect(a.bad).toBeGreaterThan(0);
    expect(b.kinds).toEqual(a.kinds);
    expect(b.bad).toBe(a.bad);
    expect(new Set([...a.traces, ...b.traces]).size).toBe(a.traces.length + b.traces.length);
    expect(a.frames[0]).toBe('run-a-0');
    // Another seed breaks other frames.
    expect((await run('other', 'run-a')).kinds).not.toEqual(a.kinds);
  });
});

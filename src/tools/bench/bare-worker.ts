/**
 * One lane of the bare benchmark on several cores (bare.ts, bareLanes): a bare InferenceSession in
 * its own thread, since onnxruntime-node's run() blocks the thread it is called on. No pool, no
 * batcher, no packing: the float batches arrive ready-made before the timing starts.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

export interface BareLaneData {
  file: string;
  options: ort.InferenceSession.SessionOptions;
  inputName: string;
  dims: number[];
  batches: Float32Array[];
}

/** run: every batch once, in order. The reply names the thread and sums the last batch's first output. */
export type BareLaneRequest = { kind: 'run' } | { kind: 'close' };
export type BareLaneReply = { kind: 'ready' } | { kind: 'ran'; threadId: number; runs: number; lastSum: number } | { kind: 'error'; message: string };

const data = workerData as BareLaneData;
const port = parentPort!;
let runs = 0;

async function main(): Promise<void> {
  const session = await ort.InferenceSession.create(data.file, data.options);
  const tensors = data.batches.map((b) => new ort.Tensor('float32', b, data.dims));
  const once = async () => {
    let out: ort.InferenceSession.OnnxValueMapType = {};
    for (const t of tensors) {
      out = await session.run({ [data.inputName]: t });
      runs++;
    }
    const first = Object.values(out)[0]?.data as Float32Array | undefined;
    return first ? first.reduce((a, b) => a + b, 0) : NaN;
  };
  await once(); // warm-up at this shape, before the parent's clock starts
  port.on('message', async (req: BareLaneRequest) => {
    if (req.kind === 'close') {
      await session.release();
      port.close();
      return;
    }
    try {
      const lastSum = await once();
      port.postMessage({ kind: 'ran', threadId, runs, lastSum } satisfies BareLaneReply);
    } catch (err) {
      port.postMessage({ kind: 'error', message: (err as Error).message } satisfies BareLaneReply);
    }
  });
  port.postMessage({ kind: 'ready' } satisfies BareLaneReply);
}

main().catch((err: Error) => port.postMessage({ kind: 'error', message: err.message } satisfies BareLaneReply));

/**
 * One inference worker thread. onnxruntime-node's run() blocks its thread for the whole
 * inference, so sessions live here and the main thread (Kafka heartbeats, I/O) stays free.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { FacePacker } from './pack.js';
import type { Feeds, LoadRequest, RunRequest, Tensor, WorkerRequest, WorkerResponse } from './types.js';

interface Loaded { session: ort.InferenceSession; batch: 'dynamic' | 'fixed1'; provider: string }
const sessions = new Map<string, Loaded>();
const packer = new FacePacker();

async function load(req: LoadRequest): Promise<WorkerResponse> {
  const errors: string[] = [];
  // Providers are tried one at a time so a missing CUDA library falls back to the next one
  // and we can say which provider really runs (ORT itself falls back silently).
  for (const provider of req.executionProviders) {
    try {
      const session = await ort.InferenceSession.create(req.file, {
        executionProviders: [provider],
        intraOpNumThreads: req.intraOpThreads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        // Denormal floats take x86 slow paths (measured 40× slower in PyTorch training here);
        // spinning intra-op threads burned ~26 % of the gate's CPU between small batches (bench).
        extra: { session: { set_denormal_as_zero: '1', intra_op: { allow_spinning: '0' } } },
      });
      sessions.set(req.modelId, { session, batch: req.batch, provider });
      return { id: req.id, ok: true, provider };
    } catch (err) {
      errors.push(`${provider}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return { id: req.id, ok: false, code: 'MODEL_LOAD', message: `${req.modelId}: no execution provider could load it (${errors.join('; ')})` };
}

function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.type, t.data, t.dims);
}

function fromOrt(t: ort.Tensor): Tensor {
  const data = t.data as Float32Array | BigInt64Array;
  // Copy out of ORT-owned memory: the buffer is transferred to the main thread.
  return { type: t.type === 'int64' ? 'int64' : 'float32', data: data.slice(), dims: [...t.dims] };
}

async function runOnce(s: ort.InferenceSession, feeds: Feeds): Promise<Feeds> {
  const input: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) input[name] = toOrt(t);
  const out = await s.run(input);
  const result: Feeds = {};
  for (const [name, t] of Object.entries(out)) result[name] = fromOrt(t);
  return result;
}

function sliceItem(t: Tensor, i: number): Tensor {
  const per = t.data.length / t.dims[0];
  return { type: t.type, data: t.data.subarray(i * per, (i + 1) * per) as Float32Array | BigInt64Array, dims: [1, ...t.dims.slice(1)] };
}

/** Models exported with batch fixed at 1 (the shipped MobileFaceNet) still take batches: loop. */
async function runFixed1(s: ort.InferenceSession, feeds: Feeds): Promise<Feeds> {
  const n = Object.values(feeds)[0].dims[0];
  const parts: Feeds[] = [];
  for (let i = 0; i < n; i++) {
    const one: Feeds = {};
    for (const [name, t] of Object.entries(feeds)) one[name] = sliceItem(t, i);
    parts.push(await runOnce(s, one));
  }
  const result: Feeds = {};
  for (const name of Object.keys(parts[0])) {
    const first = parts[0][name];
    const per = first.data.length;
    const data = first.type === 'int64' ? new BigInt64Array(per * n) : new Float32Array(per * n);
    parts.forEach((p, i) => (data as Float32Array).set(p[name].data as Float32Array, i * per));
    result[name] = { type: first.type, data, dims: [n, ...first.dims.slice(1)] };
  }
  return result;
}

async function run(req: RunRequest): Promise<WorkerResponse> {
  const loaded = sessions.get(req.modelId);
  if (!loaded) return { id: req.id, ok: false, code: 'MODEL_UNKNOWN', message: `model ${req.modelId} is not loaded in this worker` };
  const t0 = performance.now();
  let release = () => {};
  try {
    const packed = packer.pack(req.feeds);
    release = packed.release;
    const n = Object.values(packed.feeds)[0]?.dims[0] ?? 0;
    const outputs = loaded.batch === 'fixed1' && n > 1 ? await runFixed1(loaded.session, packed.feeds) : await runOnce(loaded.session, packed.feeds);
    return { id: req.id, ok: true, outputs, ms: performance.now() - t0 };
  } catch (err) {
    return { id: req.id, ok: false, code: 'INFER_FAILED', message: `${req.modelId}: ${(err as Error).message}` };
  } finally {
    // Outputs were copied out of ORT's memory, so the packed inputs are free for the next run.
    release();
  }
}

/** A swapped-out session: the pool asks only once no run of it is in flight. */
async function unload(id: number, modelId: string): Promise<WorkerResponse> {
  const loaded = sessions.get(modelId);
  sessions.delete(modelId);
  await loaded?.session.release();
  return { id, ok: true };
}

async function closeSessions(id: number): Promise<WorkerResponse> {
  await Promise.all([...sessions.values()].map((s) => s.session.release()));
  sessions.clear();
  return { id, ok: true };
}

// onnxruntime-node runs sessions on native threads: a thread ended while a run is in flight takes
// the process down (a Napi::Error at teardown), so the 'exit' drill waits for the runs it can see.
let running = 0;
let exiting = false;
const idle: (() => void)[] = [];

async function exitLikeACrash(): Promise<void> {
  exiting = true;
  while (running > 0) await new Promise<void>((r) => idle.push(r));
  process.exit(1);
}

parentPort!.on('message', async (req: WorkerRequest) => {
  if (req.kind === 'exit') return exitLikeACrash();
  // Exiting: later requests get no answer, as from a crashed thread; the pool fails them when it exits.
  if (exiting) return;
  let res: WorkerResponse;
  running++;
  try {
    res = req.kind === 'load' ? await load(req) : req.kind === 'run' ? await run(req) : req.kind === 'unload' ? await unload(req.id, req.modelId) : await closeSessions(req.id);
  } finally {
    running--;
    if (running === 0) for (const r of idle.splice(0)) r();
  }
  const transfer = res.ok && res.outputs ? Object.values(res.outputs).map((t) => t.data.buffer as ArrayBuffer) : [];
  parentPort!.postMessage(res, transfer);
});

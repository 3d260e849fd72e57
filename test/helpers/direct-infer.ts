/**
 * An InferFn for tests only: onnxruntime-node in this thread, one session per model file, no pool.
 * Models come from the shared folder (../shared/models or $DIFFIQA_SHARED/models) by id.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { InferFn, TensorData } from '../../src/plugin/face/detect.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Files per model id; tests use these two. */
const MODEL_FILES: Record<string, string> = {
  'retinaface-mnet025': 'retinaface-mnet025.onnx',
  mobilefacenet: 'mobilefacenet.onnx',
};

export function sharedModelsDir(): string {
  const shared = process.env.DIFFIQA_SHARED ?? path.resolve(repoRoot, '../shared');
  const dir = path.join(shared, 'models');
  if (!existsSync(dir)) throw new Error(`shared models not found at ${dir}: set DIFFIQA_SHARED to the shared data folder`);
  return dir;
}

export interface DirectInfer {
  infer: InferFn;
  close(): Promise<void>;
}

export function createDirectInfer(modelsDir = sharedModelsDir()): DirectInfer {
  const sessions = new Map<string, Promise<ort.InferenceSession>>();

  const session = (modelId: string): Promise<ort.InferenceSession> => {
    let s = sessions.get(modelId);
    if (!s) {
      const file = MODEL_FILES[modelId];
      if (!file) throw new Error(`direct-infer: unknown model id '${modelId}'`);
      // One thread: the test machine has two cores shared with other work.
      s = ort.InferenceSession.create(path.join(modelsDir, file), { intraOpNumThreads: 1, interOpNumThreads: 1 });
      sessions.set(modelId, s);
    }
    return s;
  };

  const runOnce = async (s: ort.InferenceSession, inputs: Record<string, TensorData>): Promise<Record<string, TensorData>> => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor('float32', t.data, t.dims);
    const results = await s.run(feeds);
    const out: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(results)) out[name] = { data: t.data as Float32Array, dims: [...t.dims] };
    return out;
  };

  const infer: InferFn = async (modelId, inputs) => {
    const s = await session(modelId);
    const batch = Object.values(inputs)[0]?.dims[0] ?? 1;
    const fixedToOne = s.inputMetadata.some((m) => m.isTensor && m.shape[0] === 1);
    if (batch <= 1 || !fixedToOne) return runOnce(s, inputs);

    // The export's batch axis is 1: run item by item and stack the results.
    const parts: Record<string, TensorData>[] = [];
    for (let b = 0; b < batch; b++) {
      const item: Record<string, TensorData> = {};
      for (const [name, t] of Object.entries(inputs)) {
        const per = t.data.length / batch;
        item[name] = { data: t.data.subarray(b * per, (b + 1) * per), dims: [1, ...t.dims.slice(1)] };
      }
      parts.push(await runOnce(s, item));
    }
    const out: Record<string, TensorData> = {};
    for (const name of Object.keys(parts[0])) {
      const per = parts[0][name].data.length;
      const data = new Float32Array(per * batch);
      parts.forEach((p, b) => data.set(p[name].data, b * per));
      out[name] = { data, dims: [batch, ...parts[0][name].dims.slice(1)] };
    }
    return out;
  };

  return {
    infer,
    async close() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map(async (s) => (await s).release()));
    },
  };
}

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GateError } from '../../plugin/core/errors.js';
import type { EvalCache } from './cache.js';

/**
 * Face-recognition models that make the similarities of an evaluation. The configured embedder's
 * embeddings come with the cached faces; a second, independent model (DIFFIQA.md: a quality score
 * made from an FR model's own embedding flatters that model) is computed by a Python tool into the
 * same cache folder and only read here. No scorer ever sees these embeddings.
 */
export const EXTERNAL_FR = {
  dlib: {
    module: 'tools.embed_dlib',
    /** What the reports call it. */
    label: (note: ExternalNote) => `dlib-resnet-v1@${note.sha256.slice(0, 12)}`,
  },
} as const;

export type ExternalFr = keyof typeof EXTERNAL_FR;

/** The JSON note the Python tool writes beside `embeddings-<name>.f32`. */
export interface ExternalNote {
  model: string;
  sha256: string;
  dim: number;
  count: number;
}

export interface FrEmbeddings {
  /** As given to --fr. */
  id: string;
  /** Model and version for the reports. */
  label: string;
  /** One per cache row. */
  embeddings: Float32Array[];
}

export const isExternalFr = (id: string): id is ExternalFr => Object.hasOwn(EXTERNAL_FR, id);

/** The exact command that fills `cache` with `name`'s embeddings, from the repository root. */
export function externalCommand(name: ExternalFr, cache: EvalCache): string {
  return `PYTHONPATH=models models/.venv/bin/python -m ${EXTERNAL_FR[name].module} --cache ${cache.dir}`;
}

/**
 * Reads `embeddings-<name>.f32` (float32, `dim` per cache row) and its note. Missing, or made
 * before the cache gained rows: ASSET_NOT_FOUND naming the command that computes them.
 */
export async function loadExternalEmbeddings(name: ExternalFr, cache: EvalCache): Promise<FrEmbeddings> {
  const file = path.join(cache.dir, `embeddings-${name}.f32`);
  const notePath = path.join(cache.dir, `embeddings-${name}.json`);
  const fix = `compute them with: ${externalCommand(name, cache)}`;
  if (!existsSync(file) || !existsSync(notePath)) {
    throw new GateError('ASSET_NOT_FOUND', `--fr ${name}: this evaluation cache has no ${name} embeddings (${path.basename(file)}); ${fix}`, { details: { command: externalCommand(name, cache) } });
  }
  const note = JSON.parse(await readFile(notePath, 'utf8')) as ExternalNote;
  const buf = await readFile(file);
  if (note.count !== cache.rows || buf.byteLength !== note.count * note.dim * 4) {
    throw new GateError('ASSET_NOT_FOUND', `--fr ${name}: the ${name} embeddings cover ${note.count} faces (${buf.byteLength} bytes), the cache holds ${cache.rows}; ${fix}`, { details: { command: externalCommand(name, cache) } });
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return {
    id: name,
    label: EXTERNAL_FR[name].label(note),
    embeddings: Array.from({ length: note.count }, (_, r) => all.subarray(r * note.dim, (r + 1) * note.dim)),
  };
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';

export type ModelRole = 'regressor' | 'embedder' | 'denoiser' | 'detector';

export interface Normalisation {
  /** x = (pixel/255 - mean[c]) / std[c], channels in `colorOrder`. */
  mean: [number, number, number];
  std: [number, number, number];
}

export interface ModelEntry {
  id: string;
  version: string;
  role: ModelRole;
  file: string;
  sha256: string;
  /** Path inside the mirror directory (DIFFIQA_ASSET_MIRROR). */
  mirrorPath?: string;
  /** Path inside this repository, for the project's own committed models. */
  bundledPath?: string;
  /** Built by a script into the cache; the resolver only names the script. */
  derivedBy?: string;
  /** A model with equal outputs to run instead when this one's file cannot be resolved
   *  (e.g. the dynamic-batch re-export before models/ci.sh has built it). */
  fallback?: string;
  url?: string | null;
  input: { name: string; layout: 'NCHW'; shape: number[]; colorOrder: 'RGB' | 'BGR'; timestepName?: string };
  outputs: string[];
  /** fixed1: the exported batch axis is 1, the runtime loops. */
  batch: 'dynamic' | 'fixed1';
  normalisation: Normalisation;
  licence: string;
}

export interface Manifest {
  models: ModelEntry[];
}

const REQUIRED: (keyof ModelEntry)[] = ['id', 'version', 'role', 'file', 'sha256', 'input', 'outputs', 'batch', 'normalisation', 'licence'];

export function parseManifest(json: unknown, origin: string): Manifest {
  const models = (json as { models?: unknown })?.models;
  if (!Array.isArray(models)) throw new GateError('CONFIG_INVALID', `${origin}: "models" must be an array`);
  const seen = new Set<string>();
  for (const [i, m] of models.entries()) {
    for (const key of REQUIRED) {
      if (m?.[key] === undefined) throw new GateError('CONFIG_INVALID', `${origin}: models[${i}] (${m?.id ?? '?'}) lacks "${key}"`);
    }
    if (!/^[0-9a-f]{64}$/.test(m.sha256)) throw new GateError('CONFIG_INVALID', `${origin}: models[${i}] (${m.id}) sha256 is not 64 hex digits`);
    if (seen.has(m.id)) throw new GateError('CONFIG_INVALID', `${origin}: duplicate model id "${m.id}"`);
    seen.add(m.id);
  }
  return { models: models as ModelEntry[] };
}

/** The manifest files read, in order (later ones override earlier ids). */
export function manifestFiles(extraPaths: string[] = []): string[] {
  return [path.join(packageRoot(), 'models', 'manifest.json'), ...extraPaths];
}

/** Reads the project's manifest plus, optionally, a user's extra manifest (their exported official models). */
export function loadManifest(extraPaths: string[] = []): Manifest {
  const files = manifestFiles(extraPaths);
  const byId = new Map<string, ModelEntry>();
  for (const file of files) {
    const parsed = parseManifest(JSON.parse(readFileSync(file, 'utf8')), file);
    for (const m of parsed.models) byId.set(m.id, m);
  }
  return { models: [...byId.values()] };
}

export function findModel(manifest: Manifest, id: string): ModelEntry {
  const m = manifest.models.find((x) => x.id === id);
  if (!m) throw new GateError('MODEL_UNKNOWN', `model "${id}" is not in the manifest (known: ${manifest.models.map((x) => x.id).join(', ')})`);
  return m;
}

export function defaultModel(manifest: Manifest, role: ModelRole): ModelEntry {
  const m = manifest.models.find((x) => x.role === role);
  if (!m) throw new GateError('MODEL_UNKNOWN', `no ${role} model in the manifest`);
  return m;
}

import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { findModel, loadManifest, type Manifest } from '../../plugin/assets/manifest.js';
import { AssetResolver } from '../../plugin/assets/resolver.js';
import type { Config } from '../../plugin/config/load.js';
import { GateError, toGateError } from '../../plugin/core/errors.js';
import type { Frame } from '../../plugin/core/frame.js';
import { cacheDir } from '../../plugin/core/paths.js';
import { subscribeTo } from '../../plugin/core/diagnostic.js';
import { inferenceChannels } from '../../plugin/inference/pool.js';
import { limitsFrom, PrepareStage, prepareOptions } from '../../plugin/pipeline/stages/prepare.js';
import type { ModelRuntime } from '../../plugin/scorers/runtime.js';
import { cosine, EmbedScorer } from '../../plugin/scorers/scorers.js';
import { runtimeFromConfig } from '../../plugin/app/runtime.js';
import { Progress } from '../../plugin/core/progress.js';
import { EvalCache, isSkip, type FaceRecord } from './cache.js';
import { edc, floorEdc, fnmr, pauc, spearman, thresholdAtFmr, type EdcCurve, type GenuineComparison } from './metrics.js';
import { loadEvalSet, type EvalSet, type SetOptions } from './dataset.js';
import { BASELINES, type EvalScorer, type Sample } from './scorers.js';
import { cascadeQuality, inBand, isCascade, resolveLineup, type Band, type CascadeScorer } from './cascade.js';
import { isExternalFr, loadExternalEmbeddings, type FrEmbeddings } from './fr.js';

export interface EvalOptions extends SetOptions {
  /** Scorer ids (see resolveScorers); default: every baseline + the configured regressor if it resolves. */
  scorers?: string[];
  /** FMR at which the comparison threshold is fixed, on all impostor comparisons. */
  fmr?: number;
  /** DifFIQA perturbation repeats. */
  repeats?: number;
  /** Cache root; default <cacheDir>/eval. */
  cacheRoot?: string;
  /** Progress bars on stderr; default: when stderr is a terminal. */
  progress?: boolean;
  /**
   * Which images get a quality score. The EDC reads qualities of genuine comparisons only, so
   * `genuine` (evaluate's choice) skips images that are only in impostor pairs: 39 % of LFW's
   * 7 701, hours of full DifFIQA on a CPU. `calibrate` needs every frame's score: `all` (default).
   */
  scoreImages?: 'all' | 'genuine';
  /**
   * FR models that make the similarities, one verification (threshold, EDC) each: the configured
   * embedder's id and/or `dlib` (embeddings computed into the cache by models/tools/embed_dlib.py).
   * Default: the configured embedder.
   */
  fr?: string[];
  /** Escalation band [reject, accept) of cascade scorers; default gate.reject, gate.accept. */
  band?: Band;
  /** Scorer pairs to rank-correlate on the scored images; scorers not in the line-up are added. */
  spearman?: [string, string][];
}

export interface EvalDeps {
  /** Builds the model runtime; called at most once, and only if something is not cached. */
  createRuntime?: (cfg: Config) => ModelRuntime;
}

export interface EvalStats {
  /** Images run through detector + alignment + embedder in this call. */
  prepared: number;
  /** Per scorer: images scored in this call (0 = served from the cache). */
  computed: Record<string, number>;
  /** Model runs (detector, embedder, regressor, UNet batches) made in this call. */
  modelCalls: number;
  ms: number;
}

/** The comparisons as one FR model sees them. */
export interface Verification {
  /** As given to --fr. */
  fr: string;
  /** Model and version, for the reports. */
  label: string;
  /** Accept when similarity >= threshold; fixed at `fmr` on all impostor comparisons. */
  threshold: number;
  achievedFmr: number;
  fnmr0: number;
  genuine: { a: string; b: string; similarity: number }[];
  impostorSimilarities: Float64Array;
}

export interface EvalData {
  set: EvalSet;
  /** id@version of the detector and of the embedder that made the cached faces' embeddings (the scorers' FR model). */
  models: { detector: string; embedder: string };
  fmr: number;
  images: { total: number; used: number; scored: number; skipped: Record<string, number>; skippedFiles: { file: string; reason: string }[] };
  pairs: { genuine: number; impostor: number; excludedGenuine: number; excludedImpostor: number };
  /** One per FR model asked for, in that order. */
  verification: Verification[];
  scorers: { id: string; key: string }[];
  /** Scorer id → file → quality (higher is better). */
  quality: Record<string, Map<string, number>>;
  /** Cascade scorer id → its band and how many scored images fell in it (full DifFIQA ran on those). */
  escalated: Record<string, { band: Band; images: number; share: number }>;
  /** Rank correlation of scorer pairs over the scored images. */
  spearman: { a: string; b: string; rho: number; images: number }[];
  stats: EvalStats;
}

export interface ScorerEdc {
  id: string;
  key: string;
  pauc02: number;
  pauc03: number;
  /** The EDC step function sampled on DISCARD_GRID (full curves have one point per genuine pair). */
  curve: EdcCurve;
}

/** Fine where the pAUC integrals live (≤ 0.3), coarse beyond. */
export const DISCARD_GRID: number[] = [
  ...Array.from({ length: 120 }, (_, i) => i / 400),
  ...Array.from({ length: 70 }, (_, i) => (30 + i) / 100),
];

/** The cache is keyed by everything that changes a face or an embedding, never by the scorers. */
export function cacheKey(cfg: Config, dataDir: string) {
  const manifest = loadManifest(cfg.get('models.manifests'));
  const model = (id: string) => { const m = findModel(manifest, id); return { id: m.id, sha256: m.sha256 }; };
  const named = (id: string) => { const m = findModel(manifest, id); return `${m.id}@${m.version}`; };
  return {
    manifest,
    models: { detector: named(cfg.get('models.detector')), embedder: named(cfg.get('models.embedder')) },
    key: {
      data: realpathSync(dataDir),
      detector: model(cfg.get('models.detector')),
      embedder: model(cfg.get('models.embedder')),
      detectorScore: cfg.get('face.detectorScore'),
      limits: limitsFrom(cfg),
    },
  };
}

/**
 * The default line-up: every baseline, plus the gate's regressor when its model file resolves.
 * Checked through the resolver alone, so a fully cached rerun starts no inference workers.
 */
async function defaultScorers(cfg: Config, manifest: Manifest, note: (s: string) => void): Promise<string[]> {
  const ids: string[] = Object.keys(BASELINES);
  const id = cfg.get('models.regressor');
  try {
    const entry = findModel(manifest, id);
    if (entry.role !== 'regressor') throw new GateError('CONFIG_INVALID', `model ${id} has role ${entry.role}`);
    await new AssetResolver({ mirrorDir: cfg.get('models.mirror') || undefined }).resolve(entry);
    ids.push(id);
  } catch (err) {
    note(`regressor ${id} left out: ${toGateError(err).message}`);
  }
  return ids;
}

/**
 * Loads the set, prepares every needed image once (the product's detector + alignment, then the
 * FR embedder), scores each image with each scorer, and fixes the FMR threshold. Everything per
 * image is cached; a model runtime is started only if something is missing.
 */
export async function computeEval(opts: EvalOptions, cfg: Config, deps: EvalDeps = {}): Promise<EvalData> {
  const t0 = performance.now();
  const fmrTarget = opts.fmr ?? 1e-3;
  const set = await loadEvalSet(opts);
  const { manifest, models, key } = cacheKey(cfg, opts.data);
  const stats: EvalStats = { prepared: 0, computed: {}, modelCalls: 0, ms: 0 };
  let rt: ModelRuntime | undefined;
  let unsubscribe: (() => void) | undefined;
  const runtime = (): ModelRuntime => {
    if (!rt) {
      rt = (deps.createRuntime ?? runtimeFromConfig)(cfg);
      unsubscribe = subscribeTo(inferenceChannels.run, rt.pool, () => { stats.modelCalls++; });
    }
    return rt;
  };
  const note = (s: string) => process.stderr.write(`evaluate: ${s}\n`);
  const cache = await EvalCache.open(opts.cacheRoot ?? path.join(cacheDir(), 'eval'), key);
  try {
    const scorerIds = opts.scorers?.length ? [...opts.scorers] : await defaultScorers(cfg, manifest, note);
    for (const id of (opts.spearman ?? []).flat()) if (!scorerIds.includes(id)) scorerIds.push(id);
    const band = opts.band ?? [cfg.get('gate.reject'), cfg.get('gate.accept')];
    const scorers = resolveLineup(scorerIds, { manifest, runtime, embedderId: cfg.get('models.embedder'), repeats: opts.repeats ?? cfg.get('escalation.repeats') }, band);
    const embedder = cfg.get('models.embedder');
    const frIds = opts.fr?.length ? opts.fr : [embedder];
    for (const id of frIds) {
      if (id !== embedder && !isExternalFr(id)) throw new GateError('USAGE', `--fr ${id}: expected ${embedder} (models.embedder) or dlib; for another ONNX embedder set models.embedder`);
    }
    stats.prepared = await prepareMissing(set.files.filter((f) => !cache.record(f)), set.root, cache, cfg, runtime, opts.progress);

    const embeddings = await cache.embeddings();
    // Before any scoring: a missing external model fails at once, naming the command that makes it.
    const frs: FrEmbeddings[] = [];
    for (const id of frIds) frs.push(isExternalFr(id) ? await loadExternalEmbeddings(id, cache) : { id, label: models.embedder, embeddings });

    const used = set.files.map((f) => [f, cache.record(f)!] as const).filter((e): e is [string, FaceRecord] => !isSkip(e[1]));
    const toScore = opts.scoreImages === 'genuine' ? inGenuinePairs(used, set) : used;
    const quality: EvalData['quality'] = {};
    const escalated: EvalData['escalated'] = {};
    for (const s of scorers) {
      if (isCascade(s)) {
        const r = await scoreCascade(s, toScore, embeddings, cache, opts.progress);
        stats.computed[s.id] = r.computed;
        quality[s.id] = r.values;
        escalated[s.id] = { band: s.band, images: r.escalated, share: r.escalated / toScore.length };
        continue;
      }
      const r = await scoreAll(s, toScore, embeddings, cache, opts.progress);
      stats.computed[s.id] = r.computed;
      quality[s.id] = r.values;
    }

    const rowOf = new Map(used.map(([f, r]) => [f, r.row]));
    const usable = set.pairs.filter((p) => rowOf.has(p.a) && rowOf.has(p.b));
    const excludedGenuine = set.pairs.filter((p) => p.genuine).length - usable.filter((p) => p.genuine).length;
    const excludedImpostor = set.pairs.length - usable.length - excludedGenuine;
    const verification = frs.map((fr) => verify(fr, usable, rowOf, fmrTarget));
    const spearmanRows = (opts.spearman ?? []).map(([a, b]) => scorerSpearman(quality, a, b));

    const skippedFiles = [
      ...set.missing.map((file) => ({ file, reason: 'MISSING' })),
      ...set.files.flatMap((file) => { const r = cache.record(file)!; return isSkip(r) ? [{ file, reason: r.skip }] : []; }),
    ];
    const skipped: Record<string, number> = {};
    for (const s of skippedFiles) skipped[s.reason] = (skipped[s.reason] ?? 0) + 1;
    stats.ms = performance.now() - t0;
    return {
      set, models, fmr: fmrTarget,
      images: { total: set.files.length + set.missing.length, used: used.length, scored: toScore.length, skipped, skippedFiles },
      pairs: { genuine: verification[0].genuine.length, impostor: verification[0].impostorSimilarities.length, excludedGenuine, excludedImpostor },
      verification, scorers: scorers.map((s) => ({ id: s.id, key: s.key })), quality, escalated, spearman: spearmanRows, stats,
    };
  } finally {
    await cache.close();
    unsubscribe?.();
    await rt?.close();
  }
}

/** The images that are in at least one genuine pair: the only ones whose quality the EDC reads. */
function inGenuinePairs(images: [string, FaceRecord][], set: EvalSet): [string, FaceRecord][] {
  const inGenuine = new Set(set.pairs.flatMap((p) => (p.genuine ? [p.a, p.b] : [])));
  return images.filter(([f]) => inGenuine.has(f));
}

/** Similarities of the usable pairs under one FR model, and its threshold at `fmr`. */
function verify(fr: FrEmbeddings, pairs: EvalSet['pairs'], rowOf: Map<string, number>, fmr: number): Verification {
  const genuine: Verification['genuine'] = [];
  const impostor: number[] = [];
  for (const p of pairs) {
    const similarity = cosine(fr.embeddings[rowOf.get(p.a)!], fr.embeddings[rowOf.get(p.b)!]);
    if (p.genuine) genuine.push({ a: p.a, b: p.b, similarity });
    else impostor.push(similarity);
  }
  if (genuine.length === 0 || impostor.length === 0) {
    throw new GateError('USAGE', `need genuine and impostor comparisons with usable images, have ${genuine.length} genuine and ${impostor.length} impostor`);
  }
  const impostorSimilarities = Float64Array.from(impostor);
  const threshold = thresholdAtFmr(impostorSimilarities, fmr);
  return {
    fr: fr.id, label: fr.label, threshold, genuine, impostorSimilarities,
    achievedFmr: impostor.filter((s) => s >= threshold).length / impostor.length,
    fnmr0: fnmr(genuine.map((g) => g.similarity), threshold),
  };
}

/** Spearman's rho of two scorers over the images both scored. */
function scorerSpearman(quality: EvalData['quality'], a: string, b: string): EvalData['spearman'][number] {
  const qa = quality[a], qb = quality[b];
  const files = [...qa.keys()].filter((f) => qb.has(f));
  return { a, b, rho: spearman(files.map((f) => qa.get(f)!), files.map((f) => qb.get(f)!)), images: files.length };
}

/** Genuine comparisons with the qualities one scorer gave their two images, under one FR model (default the first). */
export function genuineFor(data: EvalData, scorerId: string, v: Verification = data.verification[0]): GenuineComparison[] {
  const q = data.quality[scorerId];
  if (!q) throw new GateError('USAGE', `scorer ${scorerId} was not evaluated`);
  return v.genuine.map((g) => ({ similarity: g.similarity, qualityA: q.get(g.a)!, qualityB: q.get(g.b)! }));
}

/** Non-interpolated EDC per scorer (pair quality = min), pAUC at 0.2 and 0.3 on the full curve. */
export function edcSummary(data: EvalData, v: Verification = data.verification[0]): ScorerEdc[] {
  return data.scorers.map(({ id, key }) => ({ id, key, ...edcOf(genuineFor(data, id, v), v.threshold) }));
}

/** The floor: the oracle that discards the failing genuine comparisons first (metrics.floorEdc). */
export function floorSummary(v: Verification): Omit<ScorerEdc, 'id' | 'key'> {
  const sims = v.genuine.map((g) => g.similarity);
  const full = floorEdc(sims, v.threshold);
  return { pauc02: pauc(full, 0.2), pauc03: pauc(full, 0.3), curve: floorEdc(sims, v.threshold, DISCARD_GRID) };
}

function edcOf(genuine: GenuineComparison[], threshold: number): Omit<ScorerEdc, 'id' | 'key'> {
  const full = edc(genuine, threshold);
  return { pauc02: pauc(full, 0.2), pauc03: pauc(full, 0.3), curve: edc(genuine, threshold, DISCARD_GRID) };
}

const CHUNK = 32;

async function prepareMissing(files: string[], root: string, cache: EvalCache, cfg: Config, runtime: () => ModelRuntime, progress?: boolean): Promise<number> {
  if (files.length === 0) return 0;
  const rt = runtime();
  const detectorId = cfg.get('models.detector');
  const embedderId = cfg.get('models.embedder');
  await rt.load(detectorId);
  await rt.load(embedderId);
  const prep = new PrepareStage(rt, prepareOptions(cfg, detectorId));
  const embedder = new EmbedScorer(rt, embedderId);
  const bar = new Progress(files.length, 'aligning + embedding', progress);
  try {
    for (let i = 0; i < files.length; i += CHUNK) {
      const chunk = files.slice(i, i + CHUNK);
      const frames: Frame[] = await Promise.all(chunk.map(async (file) => ({ id: file, cameraId: 'evaluate', image: { bytes: await readFile(path.join(root, file)) }, timings: {}, receivedAt: 0 })));
      await prep.process(frames);
      const items = await Promise.all(frames.map(async (f) => {
        if (f.error || !f.aligned) return { file: f.id, skip: f.error?.code ?? 'INTERNAL', message: f.error?.message ?? 'no aligned face' };
        try {
          const a = f.aligned;
          return { file: f.id, face: a.data, embedding: await embedder.embed(a), eyeDistance: a.eyeDistance, detectorScore: a.detectorScore, landmarks: a.landmarks };
        } catch (err) {
          const e = toGateError(err);
          return { file: f.id, skip: e.code, message: e.message };
        }
      }));
      await cache.append(items);
      bar.tick(chunk.length);
    }
  } finally {
    bar.end();
  }
  return files.length;
}

/** Scores the rows this scorer has not cached yet, saving as it goes (full DifFIQA takes hours). */
async function scoreAll(s: EvalScorer, used: (readonly [string, FaceRecord])[], embeddings: Float32Array[], cache: EvalCache, progress?: boolean): Promise<{ values: Map<string, number>; computed: number }> {
  const values = await cache.scores(s.key);
  const todo = used.filter(([, r]) => Number.isNaN(values[r.row]));
  const bar = new Progress(todo.length, `scoring ${s.id}`, progress);
  let saved = performance.now();
  try {
    for (let i = 0; i < todo.length; i += s.batchSize) {
      const part = todo.slice(i, i + s.batchSize);
      const rows = part.map(([, r]) => r.row);
      const samples: Sample[] = part.map(([file, r]) => ({ file, eyeDistance: r.eyeDistance, landmarks: r.landmarks, detectorScore: r.detectorScore }));
      const q = await s.score({ samples, faces: s.needsFaces ? await cache.faces(rows) : undefined, embeddings: rows.map((r) => embeddings[r]), size: cache.size });
      q.forEach((v, j) => {
        if (!Number.isFinite(v)) throw new GateError('MODEL_OUTPUT', `scorer ${s.id} gave ${v} for ${part[j][0]}`);
        values[rows[j]] = v;
      });
      bar.tick(part.length);
      if (performance.now() - saved > 5000) { await cache.writeScores(s.key, values); saved = performance.now(); }
    }
  } finally {
    bar.end();
    if (todo.length > 0) await cache.writeScores(s.key, values);
  }
  return { values: new Map(used.map(([f, r]) => [f, values[r.row]])), computed: todo.length };
}

/**
 * A cascade's qualities: its inline part on every image, its full-DifFIQA part only on the images
 * whose inline score is in the band. Both parts read and fill their own cache files, so a cascade
 * and its parts as plain scorers share the work.
 */
async function scoreCascade(s: CascadeScorer, used: (readonly [string, FaceRecord])[], embeddings: Float32Array[], cache: EvalCache, progress?: boolean): Promise<{ values: Map<string, number>; computed: number; escalated: number }> {
  const inline = await scoreAll(s.inline, used, embeddings, cache, progress);
  const band = used.filter(([f]) => inBand(inline.values.get(f)!, s.band));
  const full = await scoreAll(s.full, band, embeddings, cache, progress);
  const values = new Map(used.map(([f]) => [f, cascadeQuality(inline.values.get(f)!, full.values.get(f), s.band)]));
  return { values, computed: inline.computed + full.computed, escalated: band.length };
}

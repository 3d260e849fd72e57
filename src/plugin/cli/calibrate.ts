import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { GateError } from '../core/errors.js';
import { computeEval, genuineFor, type EvalDeps } from '../../tools/eval/evaluate.js';
import { calibrate, pairQuality, type GenuineComparison } from '../../tools/eval/metrics.js';
import { parseIdentityList } from '../../tools/eval/pairs.js';
import { flagString, numberFlag, type Parsed } from './args.js';
import { commandLine, evalOptions } from './evaluate.js';
import { EXIT } from './exit.js';

export interface GateTargets {
  /** Fraction of frames to reject. Exactly one of targetDiscard / targetFnmr. */
  targetDiscard?: number;
  /** Largest FNMR acceptable on the genuine comparisons the gate lets through. */
  targetFnmr?: number;
  /** Fraction of frames to send to full DifFIQA (the borderline band). */
  escalationBudget?: number;
}

export interface GateCalibration {
  accept: number;
  reject: number;
  /** Fractions of the frames rejected / borderline at these (rounded) thresholds; never above the targets. */
  expectedDiscard: number;
  expectedBorderline: number;
  /** FNMR on the genuine comparisons whose two images both pass reject, and the share of pairs that lose one. */
  expectedFnmr: number;
  pairDiscard: number;
  /** FNMR with no gate, for comparison. */
  fnmr0: number;
  frames: number;
  genuine: number;
}

/**
 * Thresholds go into a YAML file with 7 significant digits (a float32 score's precision), rounded
 * in the direction that keeps the target a bound: rounding to nearest could push one more frame over.
 */
export function round7(v: number, direction: 'down' | 'up'): number {
  const r = Number(v.toPrecision(7));
  if (v === 0 || !Number.isFinite(v) || (direction === 'down' ? r <= v : r >= v)) return r;
  const unit = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 6);
  return Number((direction === 'down' ? r - unit : r + unit).toPrecision(7));
}

/**
 * Accept/reject thresholds from per-frame quality scores and genuine comparisons (metrics.calibrate),
 * rounded for the config file; the expectations are recomputed at the rounded values, so what is
 * printed is what the config will do on this data.
 */
export function calibrateGate(scores: Float64Array, genuine: readonly GenuineComparison[], threshold: number, t: GateTargets): GateCalibration {
  if ((t.targetDiscard === undefined) === (t.targetFnmr === undefined)) throw new GateError('USAGE', 'calibrate needs exactly one of --target-discard and --target-fnmr');
  if (genuine.length === 0) throw new GateError('USAGE', 'calibrate needs at least one genuine comparison');
  const c = calibrate(scores, {
    targetDiscard: t.targetDiscard,
    targetFnmr: t.targetFnmr === undefined ? undefined : { fnmr: t.targetFnmr, genuine, threshold },
    escalationBudget: t.escalationBudget,
  });
  // A discard target and an escalation budget are maxima: round them down. An FNMR target is a
  // maximum too, which a higher reject threshold keeps: round reject up.
  const reject = round7(c.reject, t.targetFnmr === undefined ? 'down' : 'up');
  const accept = c.accept === c.reject ? reject : Math.max(reject, round7(c.accept, 'down'));
  let rejected = 0, borderline = 0;
  for (const s of scores) { if (s < reject) rejected++; else if (s < accept) borderline++; }
  const kept = genuine.filter((g) => pairQuality(g) >= reject);
  const errors = (list: readonly GenuineComparison[]) => list.filter((g) => g.similarity < threshold).length;
  return {
    accept, reject,
    expectedDiscard: rejected / scores.length,
    expectedBorderline: borderline / scores.length,
    expectedFnmr: kept.length ? errors(kept) / kept.length : NaN,
    pairDiscard: 1 - kept.length / genuine.length,
    fnmr0: errors(genuine) / genuine.length,
    frames: scores.length,
    genuine: genuine.length,
  };
}

const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(2)} %` : 'n/a');

/** The snippet for the gate config, its evidence in comments. */
export function calibrationYaml(c: GateCalibration, meta: { command: string; scorer: string; regressor: string; threshold: number; fmr: number }): string {
  const lines = [
    `# ${meta.command}`,
    `# scorer ${meta.scorer}: ${c.frames} images, ${c.genuine} genuine comparisons, similarity threshold ${meta.threshold.toFixed(4)} at FMR ${meta.fmr}`,
    `# expected: ${pct(c.expectedDiscard)} of images rejected, ${pct(c.expectedBorderline)} borderline (escalated)`,
    `# FNMR ${pct(c.expectedFnmr)} on the genuine pairs left (${pct(c.fnmr0)} without the gate; ${pct(c.pairDiscard)} of pairs lose an image)`,
  ];
  if (meta.scorer !== meta.regressor) lines.push(`# note: the gate scores with models.regressor (${meta.regressor}); these thresholds are on ${meta.scorer}'s scale`);
  lines.push('gate:', `  accept: ${c.accept}`, `  reject: ${c.reject}`, '');
  return lines.join('\n');
}

/** Fewer images than this give thresholds that move with a few frames: such a camera keeps the global ones. */
export const MIN_CAMERA_IMAGES = 50;

export type CameraCalibration = { camera: string; images: number } & ({ c: GateCalibration } | { skipped: string });

/**
 * Per camera: thresholds from its own images' scores and the genuine pairs whose two images it
 * took (the same targets as the global run), for the `cameras:` section.
 */
export function calibrateCameras(quality: ReadonlyMap<string, number>, pairs: readonly { a: string; b: string; similarity: number }[], cameraOf: ReadonlyMap<string, string>, threshold: number, t: GateTargets): CameraCalibration[] {
  const files = new Map<string, string[]>();
  for (const file of quality.keys()) {
    const cam = cameraOf.get(file);
    if (cam) (files.get(cam) ?? files.set(cam, []).get(cam)!).push(file);
  }
  return [...files].sort(([a], [b]) => a.localeCompare(b)).map(([camera, list]) => {
    const genuine = pairs.filter((g) => cameraOf.get(g.a) === camera && cameraOf.get(g.b) === camera)
      .map((g) => ({ similarity: g.similarity, qualityA: quality.get(g.a)!, qualityB: quality.get(g.b)! }));
    if (list.length < MIN_CAMERA_IMAGES) return { camera, images: list.length, skipped: `fewer than ${MIN_CAMERA_IMAGES} images` };
    if (genuine.length === 0) return { camera, images: list.length, skipped: 'no genuine pair within the camera' };
    try {
      return { camera, images: list.length, c: calibrateGate(Float64Array.from(list, (f) => quality.get(f)!), genuine, threshold, t) };
    } catch (err) {
      return { camera, images: list.length, skipped: (err as Error).message };
    }
  });
}

/** The `cameras:` section, one line of evidence above each entry; skipped cameras named in comments. */
export function camerasYaml(cams: readonly CameraCalibration[]): string {
  const lines = ['cameras:'];
  for (const k of cams) {
    const id = JSON.stringify(k.camera);
    if ('skipped' in k) { lines.push(`  # ${id}: ${k.images} images, left to the global thresholds (${k.skipped})`); continue; }
    lines.push(`  # ${k.images} images, ${k.c.genuine} genuine pairs: ${pct(k.c.expectedDiscard)} rejected, ${pct(k.c.expectedBorderline)} borderline, FNMR ${pct(k.c.expectedFnmr)} (${pct(k.c.fnmr0)} without the gate)`);
    lines.push(`  ${id}: { accept: ${k.c.accept}, reject: ${k.c.reject} }`);
  }
  return [...lines, ''].join('\n');
}

/**
 * `diffiqa-gate calibrate --data DIR [--identities FILE | --pairs FILE] (--target-discard D | --target-fnmr X)
 *  [--escalation-budget B] [--scorer ID] [--fmr 1e-3] [--per-camera [FILE]]`: reuses the evaluate cache.
 *  --per-camera adds a `cameras:` section calibrated per camera from a "file camera" list (files relative to
 *  --data, as in identity.txt; default <data>/camera.txt).
 */
export default async function calibrateCommand(p: Parsed, deps: EvalDeps = {}): Promise<number> {
  const opts = evalOptions(p);
  const cfg = loadConfigFile(flagString(p, 'config'));
  const fraction = (v: number) => v >= 0 && v < 1;
  const targets: GateTargets = {
    targetDiscard: numberFlag(p, 'target-discard', fraction),
    targetFnmr: numberFlag(p, 'target-fnmr', (v) => v >= 0 && v <= 1),
    escalationBudget: numberFlag(p, 'escalation-budget', fraction),
  };
  if ((targets.targetDiscard === undefined) === (targets.targetFnmr === undefined)) throw new GateError('USAGE', 'calibrate needs exactly one of --target-discard and --target-fnmr');
  if ((opts.scorers?.length ?? 0) > 1) throw new GateError('USAGE', 'calibrate takes one --scorer');
  const regressor = cfg.get('models.regressor');
  const scorer = opts.scorers?.[0] ?? regressor;
  const data = await computeEval({ ...opts, scorers: [scorer] }, cfg, deps);
  const q = data.quality[scorer];
  // The first FR model's similarities (the configured embedder unless --fr says otherwise).
  const { threshold } = data.verification[0];
  const c = calibrateGate(Float64Array.from(q.values()), genuineFor(data, scorer), threshold, targets);
  process.stdout.write(calibrationYaml(c, { command: commandLine(p), scorer, regressor, threshold, fmr: data.fmr }));
  const perCamera = p.flags['per-camera'];
  if (perCamera !== undefined) {
    const list = typeof perCamera === 'string' ? perCamera : path.join(data.set.root, 'camera.txt');
    let text: string;
    try { text = await readFile(list, 'utf8'); } catch (err) { throw new GateError('USAGE', `--per-camera: cannot read the camera list ${list} ("file camera" per line): ${(err as Error).message}`); }
    process.stdout.write(camerasYaml(calibrateCameras(q, data.verification[0].genuine, parseIdentityList(text), threshold, targets)));
  }
  return EXIT.ok;
}

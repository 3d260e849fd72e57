import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { GateError } from '../core/errors.js';
import { cacheDir } from '../core/paths.js';
import { computeEval, edcSummary, type EvalData, type EvalDeps, type EvalOptions, type ScorerEdc } from '../../tools/eval/evaluate.js';
import { edcSvg, svgToPng } from '../../tools/eval/plot.js';
import { flagList, flagString, isCount, numberFlag, type Parsed } from './args.js';
import { EXIT } from './exit.js';

/** The flags `evaluate` and `calibrate` share: the data set, its pairs and the cache. */
export function evalOptions(p: Parsed): EvalOptions {
  const data = flagString(p, 'data');
  if (!data) throw new GateError('USAGE', `${p.command} needs --data DIR`);
  return {
    data,
    identities: flagString(p, 'identities'),
    pairs: flagString(p, 'pairs'),
    // Repeatable, and comma lists too: --scorer random,sharpness.
    scorers: flagList(p, 'scorer').flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean),
    fmr: numberFlag(p, 'fmr', (v) => v > 0 && v < 1),
    limit: numberFlag(p, 'limit', isCount),
    impostors: numberFlag(p, 'impostors', isCount),
    repeats: numberFlag(p, 'repeats', isCount),
    seed: flagString(p, 'seed'),
    cacheRoot: flagString(p, 'cache'),
  };
}

/** The command as typed (flags in their given order), for the reports. */
export function commandLine(p: Parsed): string {
  const parts = ['diffiqa-gate', p.command, ...p.positional];
  for (const [k, v] of Object.entries(p.flags)) for (const one of Array.isArray(v) ? v : [v]) parts.push(one === true ? `--${k}` : `--${k} ${one}`);
  return parts.join(' ');
}

const r6 = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(6)) : null);
const f4 = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');

/** pAUC@0.2 ascending (lower is better); NaN (no errors to remove) last. */
function ranked(rows: ScorerEdc[]): ScorerEdc[] {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  return [...rows].sort((a, b) => key(a.pauc02) - key(b.pauc02) || key(a.pauc03) - key(b.pauc03));
}

export function edcJson(data: EvalData, rows: ScorerEdc[], command: string): unknown {
  return {
    command,
    data: data.set.root,
    protocol: data.set.protocol,
    models: data.models,
    fmr: data.fmr,
    achievedFmr: data.achievedFmr,
    threshold: data.threshold,
    fnmr0: data.fnmr0,
    pairs: data.pairs,
    images: { total: data.images.total, used: data.images.used, scored: data.images.scored, skipped: data.images.skipped, skippedFiles: data.images.skippedFiles },
    scorers: ranked(rows).map((r) => ({
      id: r.id, key: r.key, 'pAUC0.2': r6(r.pauc02), 'pAUC0.3': r6(r.pauc03), fnmr0: data.fnmr0, threshold: data.threshold,
      curve: { discard: r.curve.discard.map(r6), fnmr: r.curve.fnmr.map(r6) },
    })),
  };
}

export function edcMarkdown(data: EvalData, rows: ScorerEdc[], command: string): string {
  const skipped = Object.entries(data.images.skipped).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  const lines = [
    `# EDC: ${data.set.root}`,
    '',
    `Made by \`${command}\`.`,
    '',
    `- Pairs: ${data.set.protocol}. Compared: ${data.pairs.genuine} genuine, ${data.pairs.impostor} impostor; excluded for an unusable image: ${data.pairs.excludedGenuine} genuine, ${data.pairs.excludedImpostor} impostor.`,
    `- Images: ${data.images.used} of ${data.images.total} usable, ${data.images.scored} in a genuine comparison and so scored; skipped: ${skipped}.`,
    `- Faces: ${data.models.detector} + 5-point alignment (the gate's own pipeline); similarity: cosine of ${data.models.embedder} embeddings.`,
    `- Threshold ${data.threshold.toFixed(4)} at FMR ${data.fmr} (achieved ${data.achievedFmr.toFixed(5)}); FNMR with nothing discarded: ${data.fnmr0.toFixed(4)} (${Math.round(data.fnmr0 * data.pairs.genuine)} of ${data.pairs.genuine} genuine pairs: the errors a quality score can remove).`,
    '',
    '| scorer | pAUC@0.2 | pAUC@0.3 |',
    '| --- | ---: | ---: |',
    ...ranked(rows).map((r) => `| ${r.id} | ${f4(r.pauc02)} | ${f4(r.pauc03)} |`),
    '',
    'Non-interpolated EDC, pair quality = min of the two images; pAUC normalised by FNMR(0): 1.0 is no better than random order, lower is better.',
    '',
  ];
  return lines.join('\n');
}

/** Writes edc.json, edc.md, edc.svg and edc.png into `out`; returns the markdown. */
export async function writeReports(out: string, data: EvalData, rows: ScorerEdc[], command: string): Promise<string> {
  await mkdir(out, { recursive: true });
  const md = edcMarkdown(data, rows, command);
  // Legend in rank order, styles by line-up position: a scorer keeps its colour from plot to plot.
  const style = new Map(data.scorers.map((sc, i) => [sc.id, i]));
  const svg = edcSvg(ranked(rows).map((r) => ({ label: `${r.id} (${f4(r.pauc02)})`, curve: r.curve, style: style.get(r.id) })), { title: `EDC, ${path.basename(data.set.root)}: FNMR vs. discard (pAUC@0.2 in brackets)` });
  // Indented for reading and diffs, but number lists on one line each: the curves are long.
  const text = JSON.stringify(edcJson(data, rows, command), null, 1).replace(/\[[-\d.e,\snul]*\]/g, (a) => a.replace(/\s+/g, ''));
  await writeFile(path.join(out, 'edc.json'), text + '\n');
  await writeFile(path.join(out, 'edc.md'), md);
  await writeFile(path.join(out, 'edc.svg'), svg);
  await writeFile(path.join(out, 'edc.png'), await svgToPng(svg));
  return md;
}

/**
 * `diffiqa-gate evaluate --data DIR [--identities FILE | --pairs FILE] [--scorer ID ...] [--fmr 1e-3]
 *  [--out DIR] [--limit N] [--repeats R] [--impostors N] [--seed S] [--cache DIR] [--config FILE]`
 */
export default async function evaluateCommand(p: Parsed, deps: EvalDeps = {}): Promise<number> {
  const opts = evalOptions(p);
  const cfg = loadConfigFile(flagString(p, 'config'));
  const out = flagString(p, 'out') ?? path.join(cacheDir(), 'eval-results', path.basename(path.resolve(opts.data)));
  const data = await computeEval({ ...opts, scoreImages: 'genuine' }, cfg, deps);
  const rows = edcSummary(data);
  const md = await writeReports(out, data, rows, commandLine(p));
  process.stdout.write(md);
  const s = data.stats;
  process.stderr.write(`evaluate: wrote ${out}/edc.{json,md,svg,png}; prepared ${s.prepared} images, scored ${JSON.stringify(s.computed)}, ${s.modelCalls} model runs, ${(s.ms / 1000).toFixed(1)} s\n`);
  return EXIT.ok;
}

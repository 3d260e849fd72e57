import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { GateError } from '../core/errors.js';
import { cacheDir } from '../core/paths.js';
import { computeEval, edcSummary, floorSummary, type EvalData, type EvalDeps, type EvalOptions, type ScorerEdc, type Verification } from '../../tools/eval/evaluate.js';
import { splitScorerList, type Band } from '../../tools/eval/cascade.js';
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
    // Repeatable, and comma lists too: --scorer random,sharpness (a cascade's comma stays inside it).
    scorers: splitScorerList(flagList(p, 'scorer')),
    fr: flagList(p, 'fr').flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean),
    band: bandFlag(p),
    spearman: flagList(p, 'spearman').map((v) => {
      const ids = splitScorerList([v]);
      if (ids.length !== 2) throw new GateError('USAGE', `--spearman needs two scorer ids A,B, got "${v}"`);
      return [ids[0], ids[1]] as [string, string];
    }),
    fmr: numberFlag(p, 'fmr', (v) => v > 0 && v < 1),
    limit: numberFlag(p, 'limit', isCount),
    impostors: numberFlag(p, 'impostors', isCount),
    repeats: numberFlag(p, 'repeats', isCount),
    seed: flagString(p, 'seed'),
    cacheRoot: flagString(p, 'cache'),
  };
}

function bandFlag(p: Parsed): Band | undefined {
  const v = flagString(p, 'band');
  if (v === undefined) return undefined;
  const parts = v.split(',').map(Number);
  if (parts.length !== 2 || !parts.every(Number.isFinite) || parts[0] > parts[1]) throw new GateError('USAGE', `--band needs LO,HI with LO <= HI, got "${v}"`);
  return [parts[0], parts[1]];
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

/** One FR model's results: its verification, every scorer's EDC and the set's floor. */
export interface FrTable {
  v: Verification;
  rows: ScorerEdc[];
  floor: Omit<ScorerEdc, 'id' | 'key'>;
}

export function frTables(data: EvalData): FrTable[] {
  return data.verification.map((v) => ({ v, rows: edcSummary(data, v), floor: floorSummary(v) }));
}

const curveJson = (c: ScorerEdc['curve']) => ({ discard: c.discard.map(r6), fnmr: c.fnmr.map(r6) });

export function edcJson(data: EvalData, tables: FrTable[], command: string): unknown {
  return {
    command,
    data: data.set.root,
    protocol: data.set.protocol,
    models: data.models,
    fmr: data.fmr,
    pairs: data.pairs,
    images: { total: data.images.total, used: data.images.used, scored: data.images.scored, skipped: data.images.skipped, skippedFiles: data.images.skippedFiles },
    escalated: data.escalated,
    spearman: data.spearman.map((s) => ({ ...s, rho: r6(s.rho) })),
    fr: tables.map(({ v, rows, floor }) => ({
      model: v.fr, label: v.label, threshold: v.threshold, achievedFmr: v.achievedFmr, fnmr0: v.fnmr0,
      floor: { 'pAUC0.2': r6(floor.pauc02), 'pAUC0.3': r6(floor.pauc03), curve: curveJson(floor.curve) },
      scorers: ranked(rows).map((r) => ({ id: r.id, key: r.key, 'pAUC0.2': r6(r.pauc02), 'pAUC0.3': r6(r.pauc03), curve: curveJson(r.curve) })),
    })),
  };
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

export function edcMarkdown(data: EvalData, tables: FrTable[], command: string): string {
  const skipped = Object.entries(data.images.skipped).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  const lines = [
    `# EDC: ${data.set.root}`,
    '',
    `Made by \`${command}\`.`,
    '',
    `- Pairs: ${data.set.protocol}. Compared: ${data.pairs.genuine} genuine, ${data.pairs.impostor} impostor; excluded for an unusable image: ${data.pairs.excludedGenuine} genuine, ${data.pairs.excludedImpostor} impostor.`,
    `- Images: ${data.images.used} of ${data.images.total} usable, ${data.images.scored} in a genuine comparison and so scored; skipped: ${skipped}.`,
    `- Faces: ${data.models.detector} + 5-point alignment (the gate's own pipeline); the scorers' FR model: ${data.models.embedder}.`,
    ...Object.entries(data.escalated).map(([id, e]) => `- ${id}: ${pct(e.share)} of the scored images (${e.images}) had an inline score in the band [${e.band[0]}, ${e.band[1]}) and were scored by full DifFIQA.`),
    ...data.spearman.map((s) => `- Spearman ρ(${s.a}, ${s.b}) = ${f4(s.rho)} over ${s.images} scored images.`),
  ];
  for (const { v, rows, floor } of tables) {
    lines.push(
      '',
      `## Similarity: ${v.label}`,
      '',
      `Threshold ${v.threshold.toFixed(4)} at FMR ${data.fmr} (achieved ${v.achievedFmr.toFixed(5)}); FNMR with nothing discarded: ${v.fnmr0.toFixed(4)} (${Math.round(v.fnmr0 * v.genuine.length)} of ${v.genuine.length} genuine pairs: the errors a quality score can remove).`,
      '',
      '| scorer | pAUC@0.2 | pAUC@0.3 |',
      '| --- | ---: | ---: |',
      `| *floor (oracle)* | ${f4(floor.pauc02)} | ${f4(floor.pauc03)} |`,
      ...ranked(rows).map((r) => `| ${r.id} | ${f4(r.pauc02)} | ${f4(r.pauc03)} |`),
    );
  }
  lines.push(
    '',
    'Non-interpolated EDC, pair quality = min of the two images; pAUC normalised by FNMR(0): 1.0 is no better than random order, lower is better. '
      + 'The floor is the best any order can do: the failing genuine pairs discarded first.',
    '',
  );
  return lines.join('\n');
}

/** Writes edc.json, edc.md, and per FR model an SVG and PNG (edc.* for the first, edc-<fr>.* for the others) into `out`; returns the markdown. */
export async function writeReports(out: string, data: EvalData, tables: FrTable[], command: string): Promise<string> {
  await mkdir(out, { recursive: true });
  const md = edcMarkdown(data, tables, command);
  // Legend in rank order, styles by line-up position: a scorer keeps its colour from plot to plot.
  const style = new Map(data.scorers.map((sc, i) => [sc.id, i]));
  for (const [i, { v, rows, floor }] of tables.entries()) {
    const series = [
      ...ranked(rows).map((r) => ({ label: `${r.id} (${f4(r.pauc02)})`, curve: r.curve, style: style.get(r.id) })),
      { label: `floor (oracle) (${f4(floor.pauc02)})`, curve: floor.curve, style: FLOOR_STYLE },
    ];
    const svg = edcSvg(series, { title: `EDC, ${path.basename(data.set.root)}, ${v.fr}: FNMR vs. discard (pAUC@0.2 in brackets)` });
    const base = plotName(v, i);
    await writeFile(path.join(out, `${base}.svg`), svg);
    await writeFile(path.join(out, `${base}.png`), await svgToPng(svg));
  }
  // Indented for reading and diffs, but number lists on one line each: the curves are long.
  const text = JSON.stringify(edcJson(data, tables, command), null, 1).replace(/\[[-\d.e,\snul]*\]/g, (a) => a.replace(/\s+/g, ''));
  await writeFile(path.join(out, 'edc.json'), text + '\n');
  await writeFile(path.join(out, 'edc.md'), md);
  return md;
}

/** The first FR model's plot is edc.svg/png (as before there was a choice), the others' edc-<fr>.svg/png. */
const plotName = (v: Verification, i: number) => (i === 0 ? 'edc' : `edc-${v.fr}`);

/** Plot style of the floor: the grey of plot.ts's palette, so no scorer's colour is taken. */
const FLOOR_STYLE = 8;

/**
 * `diffiqa-gate evaluate --data DIR [--identities FILE | --pairs FILE] [--scorer ID ...] [--fr ID,...]
 *  [--band LO,HI] [--spearman A,B] [--fmr 1e-3] [--out DIR] [--limit N] [--repeats R] [--impostors N]
 *  [--seed S] [--cache DIR] [--config FILE]`
 */
export default async function evaluateCommand(p: Parsed, deps: EvalDeps = {}): Promise<number> {
  const opts = evalOptions(p);
  const cfg = loadConfigFile(flagString(p, 'config'));
  const out = flagString(p, 'out') ?? path.join(cacheDir(), 'eval-results', path.basename(path.resolve(opts.data)));
  const data = await computeEval({ ...opts, scoreImages: 'genuine' }, cfg, deps);
  const md = await writeReports(out, data, frTables(data), commandLine(p));
  process.stdout.write(md);
  const s = data.stats;
  const plots = data.verification.map(plotName).join(',');
  process.stderr.write(`evaluate: wrote ${out}/edc.{json,md} and {${plots}}.{svg,png}; prepared ${s.prepared} images, scored ${JSON.stringify(s.computed)}, ${s.modelCalls} model runs, ${(s.ms / 1000).toFixed(1)} s\n`);
  return EXIT.ok;
}

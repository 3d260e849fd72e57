import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseArgs } from '../../../src/plugin/cli/program.js';
import calibrateCommand from '../../../src/plugin/cli/calibrate.js';
import evaluateCommand, { evalOptions } from '../../../src/plugin/cli/evaluate.js';
import { runtimeFromConfig } from '../../../src/plugin/app/runtime.js';
import { loadConfigFile, type Config } from '../../../src/plugin/config/load.js';
import { computeEval, type EvalData } from '../../../src/tools/eval/evaluate.js';
import { edc, pauc } from '../../../src/tools/eval/metrics.js';
import { sharedDir, sharedPath } from '../../helpers/shared.js';
import { FIXTURE_REGRESSOR_ID, prepareFixtureModels, repoRoot, type FixtureModels } from '../../helpers/fixture-models.js';
import { GateError } from '../../../src/plugin/core/errors.js';
import { subscribeTo } from '../../../src/plugin/core/diagnostic.js';
import { inferenceChannels } from '../../../src/plugin/inference/pool.js';

/**
 * The real thing on a small LFW subset: the product's detector, alignment and FR model, run
 * through the command functions. LIMIT pairs from the start of the official list (half genuine,
 * half impostor); with under 1000 impostors the FMR-1e-3 threshold sits just above the most similar
 * impostor, and this subset has genuine pairs below it (FNMR(0) > 0; measured 11 of 200), so pAUC is
 * defined. Preparing its 572 images takes minutes on two shared cores.
 * The configured regressor is the tiny test regressor (the project's own is still being trained),
 * and the embedder the shipped fixed-batch MobileFaceNet, so nothing depends on derived models.
 */
const LIMIT = 400;
const SCORERS = ['random', 'sharpness', 'embedding-norm'];

interface EdcJson {
  command: string;
  pairs: { genuine: number; impostor: number };
  images: { used: number; total: number; scored: number };
  fr: {
    model: string;
    threshold: number;
    fnmr0: number;
    floor: { 'pAUC0.2': number; 'pAUC0.3': number };
    scorers: { id: string; 'pAUC0.2': number; 'pAUC0.3': number; curve: { discard: number[]; fnmr: number[] } }[];
  }[];
}

describe('evaluate and calibrate on an LFW subset', () => {
  let dir: string;
  let fx: FixtureModels;
  let cfg: Config;
  let argv: string[];
  const savedCache = process.env.DIFFIQA_CACHE;
  const counts = { runtimes: 0, modelCalls: [] as string[] };
  const createRuntime = (c: Config) => {
    counts.runtimes++;
    const rt = runtimeFromConfig(c);
    subscribeTo(inferenceChannels.run, rt.pool, (e) => { counts.modelCalls.push(e.modelId); });
    return rt;
  };
  const snapshot = () => ({ runtimes: counts.runtimes, modelCalls: counts.modelCalls.length });
  let firstMs = 0;
  let stdout: string[] = [];

  beforeAll(async () => {
    process.env.DIFFIQA_ASSET_MIRROR ??= sharedDir();
    fx = await prepareFixtureModels();
    // The resolver finds the fixture regressor in this cache; the evaluation cache is --cache.
    process.env.DIFFIQA_CACHE = fx.cacheDir;
    dir = await mkdtemp(path.join(tmpdir(), 'evaluate-cli-'));
    const config = path.join(dir, 'gate.yaml');
    await writeFile(config, `models:\n  manifests: [${JSON.stringify(fx.manifestPath)}]\n  regressor: ${FIXTURE_REGRESSOR_ID}\n  embedder: mobilefacenet\n`);
    cfg = loadConfigFile(config);
    argv = ['evaluate', '--data', sharedPath('data', 'lfw'), '--pairs', sharedPath('data', 'lfw-pairs.txt'), '--limit', String(LIMIT),
      '--scorer', SCORERS.join(','), '--out', path.join(dir, 'out'), '--cache', path.join(dir, 'cache'), '--config', config];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => { stdout.push(String(s)); return true; });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    if (savedCache === undefined) delete process.env.DIFFIQA_CACHE;
    else process.env.DIFFIQA_CACHE = savedCache;
    await rm(dir, { recursive: true, force: true });
    await fx?.cleanup();
  });

  const json = async (): Promise<EdcJson> => JSON.parse(await readFile(path.join(dir, 'out', 'edc.json'), 'utf8')) as EdcJson;

  it('evaluateCommand should write edc.json, edc.md, edc.svg and edc.png with finite pAUC for every scorer', async () => {
    const t0 = performance.now();
    expect(await evaluateCommand(parseArgs(argv), { createRuntime })).toBe(0);
    firstMs = performance.now() - t0;
    expect(counts.runtimes).toBe(1);
    expect(new Set(counts.modelCalls)).toEqual(new Set(['retinaface-mnet025', 'mobilefacenet']));

    const j = await json();
    expect(j.pairs.genuine + j.pairs.impostor).toBeLessThanOrEqual(LIMIT);
    expect(j.pairs.genuine).toBeGreaterThan(0.9 * (LIMIT / 2));
    expect(j.fr.map((f) => f.model)).toEqual(['mobilefacenet']);
    const [fr] = j.fr;
    expect(Number.isFinite(fr.threshold)).toBe(true);
    expect(fr.fnmr0, 'this subset should have false non-matches at the threshold').toBeGreaterThan(0);
    expect(fr.scorers.map((s) => s.id).sort()).toEqual([...SCORERS].sort());
    // Only images of genuine comparisons are scored (the EDC reads no other quality).
    expect(j.images.scored).toBeLessThan(j.images.used);
    expect(j.images.scored).toBeGreaterThanOrEqual(j.pairs.genuine);
    for (const s of fr.scorers) {
      expect(Number.isFinite(s['pAUC0.2']) && Number.isFinite(s['pAUC0.3']), s.id).toBe(true);
      expect(s.curve.discard[0]).toBe(0);
      expect(s.curve.fnmr[0]).toBeCloseTo(fr.fnmr0, 5);
      expect(s.curve.fnmr).toHaveLength(s.curve.discard.length);
      // No order beats the oracle's.
      expect(fr.floor['pAUC0.2']).toBeLessThanOrEqual(s['pAUC0.2']);
    }
    const sorted = fr.scorers.map((s) => s['pAUC0.2']);
    expect(sorted).toEqual([...sorted].sort((a, b) => a - b));

    const md = await readFile(path.join(dir, 'out', 'edc.md'), 'utf8');
    expect(md).toContain(`\`diffiqa-gate ${argv.join(' ')}\``);
    const rows = md.split('\n').filter((l) => /^\| [a-z]/.test(l) && !l.startsWith('| scorer'));
    expect(rows.map((l) => l.split('|')[1].trim())).toEqual(fr.scorers.map((s) => s.id));
    expect(md).toContain(`| *floor (oracle)* | ${fr.floor['pAUC0.2'].toFixed(4)} |`);
    expect(stdout.join('')).toContain(md);

    const svg = await readFile(path.join(dir, 'out', 'edc.svg'), 'utf8');
    expect(svg.match(/<polyline /g)).toHaveLength(SCORERS.length + 1);
    const meta = await sharp(await readFile(path.join(dir, 'out', 'edc.png'))).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(400);
  }, 900_000);

  let cached: EvalData;
  it('computeEval should serve a rerun from the cache without starting a model', async () => {
    const before = snapshot();
    const t0 = performance.now();
    cached = await computeEval({ ...evalOptions(parseArgs(argv)), scoreImages: 'genuine' }, cfg, { createRuntime });
    const ms = performance.now() - t0;
    expect(snapshot()).toEqual(before);
    expect(cached.stats.prepared).toBe(0);
    expect(cached.stats.modelCalls).toBe(0);
    expect(Object.values(cached.stats.computed)).toEqual(SCORERS.map(() => 0));
    expect(ms, `rerun ${ms} ms vs first run ${firstMs} ms`).toBeLessThan(firstMs / 5);
    // The same numbers as the files written by the first run.
    const j = await json();
    expect(cached.verification[0].threshold).toBe(j.fr[0].threshold);
    expect(cached.verification[0].genuine.length).toBe(j.pairs.genuine);
  });

  it('an oracle quality (each pair\'s own similarity) should give pAUC below 1', () => {
    const { genuine, threshold } = cached.verification[0];
    const oracle = genuine.map((g) => ({ similarity: g.similarity, qualityA: g.similarity, qualityB: g.similarity }));
    const curve = edc(oracle, threshold);
    expect(pauc(curve, 0.2)).toBeLessThan(1);
    expect(pauc(curve, 0.3)).toBeLessThan(1);
  });

  it('computeEval should compute only what is new to the cache (scorers, impostor-only images), running only the regressor model', async () => {
    const calls = counts.modelCalls.length;
    // No --scorer: the default line-up, every baseline plus the configured regressor; every image
    // (as calibrate asks), so the cached scorers compute just the images only impostor pairs hold.
    const data = await computeEval({ ...evalOptions(parseArgs(argv)), scorers: undefined }, cfg, { createRuntime });
    const fresh = ['brightness', 'face-size', FIXTURE_REGRESSOR_ID];
    expect(data.images.scored).toBe(data.images.used);
    const impostorOnly = data.images.used - cached.images.scored;
    expect(impostorOnly).toBeGreaterThan(0);
    expect(data.stats.computed).toEqual({ ...Object.fromEntries(SCORERS.map((s) => [s, impostorOnly])), ...Object.fromEntries(fresh.map((s) => [s, data.images.used])) });
    expect(data.stats.prepared).toBe(0);
    expect(counts.modelCalls.length).toBeGreaterThan(calls);
    expect(new Set(counts.modelCalls.slice(calls))).toEqual(new Set([FIXTURE_REGRESSOR_ID]));
    const q = [...data.quality[FIXTURE_REGRESSOR_ID].values()];
    expect(q.every(Number.isFinite) && new Set(q).size > 1).toBe(true);
  });

  it('computeEval should start no runtime for a default line-up that is all cached', async () => {
    const before = snapshot();
    const data = await computeEval({ ...evalOptions(parseArgs(argv)), scorers: undefined }, cfg, { createRuntime });
    expect(Object.keys(data.quality)).toContain(FIXTURE_REGRESSOR_ID);
    expect(Object.values(data.stats.computed).every((n) => n === 0)).toBe(true);
    expect(snapshot()).toEqual(before);
  });

  it('evaluateCommand --fr mobilefacenet,dlib should name the Python command, and after it give a table per FR model', async () => {
    const before = snapshot();
    const frArgs = [...argv, '--fr', 'mobilefacenet,dlib', '--spearman', 'sharpness,embedding-norm'];
    const err = await evaluateCommand(parseArgs(frArgs), { createRuntime }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GateError);
    expect((err as GateError).code).toBe('ASSET_NOT_FOUND');
    const command = String((err as GateError).details?.command);
    expect((err as GateError).message).toContain(command);
    // The command as printed, from the repository root, fills the cache.
    const py = spawnSync('bash', ['-c', command], { cwd: repoRoot, encoding: 'utf8' });
    expect(py.status, py.stderr).toBe(0);
    expect(await evaluateCommand(parseArgs(frArgs), { createRuntime })).toBe(0);
    const j = await json();
    expect(j.fr.map((f) => f.model)).toEqual(['mobilefacenet', 'dlib']);
    const [mobile, dlib] = j.fr;
    expect(dlib.threshold).not.toBe(mobile.threshold);
    expect(dlib.fnmr0).toBeGreaterThan(0);
    expect(dlib.scorers.map((s) => s.id).sort()).toEqual([...SCORERS].sort());
    // A face-recognition model that is not the scorers' own: the same qualities, another EDC.
    expect(dlib.scorers.find((s) => s.id === 'embedding-norm')!['pAUC0.2']).not.toBe(mobile.scorers.find((s) => s.id === 'embedding-norm')!['pAUC0.2']);
    const md = await readFile(path.join(dir, 'out', 'edc.md'), 'utf8');
    expect(md).toMatch(/## Similarity: mobilefacenet@[^\n]*[\s\S]*## Similarity: dlib-resnet-v1@/);
    expect(md).toMatch(/Spearman ρ\(sharpness, embedding-norm\) = -?\d\.\d{4} over \d+ scored images/);
    expect((await stat(path.join(dir, 'out', 'edc-dlib.png'))).size).toBeGreaterThan(0);
    expect(snapshot()).toEqual(before);
  }, 600_000);

  it('calibrateCommand should print a gate YAML snippet from the cached scores', async () => {
    const before = snapshot();
    stdout = [];
    const args = ['calibrate', ...argv.slice(1).filter((_, i, a) => a[i] !== '--out' && a[i - 1] !== '--out' && a[i] !== '--scorer' && a[i - 1] !== '--scorer'),
      '--scorer', 'sharpness', '--target-discard', '0.1', '--escalation-budget', '0.2'];
    expect(await calibrateCommand(parseArgs(args), { createRuntime })).toBe(0);
    const text = stdout.join('');
    const { gate } = parseYaml(text) as { gate: { accept: number; reject: number } };
    expect(gate.reject).toBeLessThan(gate.accept);
    const q = [...cached.quality.sharpness.values()];
    const share = (t: number) => q.filter((v) => v < t).length / q.length;
    expect(share(gate.reject)).toBeLessThanOrEqual(0.1 + 1 / q.length);
    expect(share(gate.accept) - share(gate.reject)).toBeGreaterThan(0.15);
    expect(text).toContain('# note: the gate scores with models.regressor');
    expect(snapshot()).toEqual(before);
  });

  it('calibrateCommand should default to the configured regressor, without the scale note', async () => {
    const before = snapshot();
    stdout = [];
    const args = ['calibrate', '--data', sharedPath('data', 'lfw'), '--pairs', sharedPath('data', 'lfw-pairs.txt'), '--limit', String(LIMIT),
      '--cache', path.join(dir, 'cache'), '--config', path.join(dir, 'gate.yaml'), '--target-discard', '0.05'];
    expect(await calibrateCommand(parseArgs(args), { createRuntime })).toBe(0);
    const text = stdout.join('');
    expect(text).toContain(`# scorer ${FIXTURE_REGRESSOR_ID}:`);
    expect(text).not.toContain('# note');
    expect((parseYaml(text) as { gate: { reject: number } }).gate.reject).toBeTypeOf('number');
    expect(snapshot()).toEqual(before);
  });
});

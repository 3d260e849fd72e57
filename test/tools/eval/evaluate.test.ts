import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../../../src/plugin/assets/manifest.js';
import { buildConfig, type Config } from '../../../src/plugin/config/load.js';
import { GateError } from '../../../src/plugin/core/errors.js';
import { cosine } from '../../../src/plugin/scorers/scorers.js';
import { EvalCache } from '../../../src/tools/eval/cache.js';
import { isCascade, resolveLineup, type Band } from '../../../src/tools/eval/cascade.js';
import { cacheKey, computeEval, DISCARD_GRID, edcSummary, floorSummary, genuineFor, type EvalData, type EvalOptions } from '../../../src/tools/eval/evaluate.js';
import { floorEdc, pauc, spearman } from '../../../src/tools/eval/metrics.js';

/**
 * Six genuine pairs at threshold 0.5; pairs 0 and 1 are the false non-matches.
 * 'aligned' gives their images the lowest qualities, 'reversed' the highest.
 */
function data(): EvalData {
  const sims = [0.2, 0.4, 0.6, 0.7, 0.8, 0.9];
  const genuine = sims.map((similarity, i) => ({ a: `p${i}a`, b: `p${i}b`, similarity }));
  const aligned = new Map<string, number>();
  const reversed = new Map<string, number>();
  sims.forEach((s, i) => {
    // The b image is the worse one in 'aligned', so the pair quality is min = s.
    aligned.set(`p${i}a`, s + 1).set(`p${i}b`, s);
    reversed.set(`p${i}a`, -s).set(`p${i}b`, 5);
  });
  return {
    verification: [{ fr: 'fr-a', label: 'fr-a@1', threshold: 0.5, fnmr0: 2 / 6, genuine }],
    scorers: [{ id: 'aligned', key: 'aligned@1' }, { id: 'reversed', key: 'reversed@1' }],
    quality: { aligned, reversed },
  } as unknown as EvalData;
}

describe('genuineFor', () => {
  it('genuineFor should attach the scorer\'s quality of each image of each pair', () => {
    const g = genuineFor(data(), 'aligned');
    expect(g[1]).toEqual({ similarity: 0.4, qualityA: 1.4, qualityB: 0.4 });
    expect(() => genuineFor(data(), 'other')).toThrow(GateError);
  });
});

describe('edcSummary', () => {
  it('edcSummary should give pAUC well below 1 when low quality marks the errors, and above it when reversed', () => {
    const [aligned, reversed] = edcSummary(data());
    // Aligned: discarding 1/6 leaves 1/5 errors, 2/6 leaves none; pAUC@0.2 = (1/6·1/3 + (0.2−1/6)·1/5)/(0.2·1/3).
    expect(aligned.pauc02).toBeCloseTo((1 / 18 + (0.2 - 1 / 6) / 5) / (0.2 / 3), 12);
    expect(aligned.pauc03).toBeLessThan(aligned.pauc02);
    expect(reversed.pauc02).toBeGreaterThan(1);
  });

  it('edcSummary should sample the curve on DISCARD_GRID, starting at FNMR(0)', () => {
    const [aligned] = edcSummary(data());
    expect(aligned.curve.discard).toEqual(DISCARD_GRID);
    expect(aligned.curve.fnmr[0]).toBeCloseTo(2 / 6, 12);
    expect(aligned.curve.fnmr[aligned.curve.fnmr.length - 1]).toBe(0);
    expect(DISCARD_GRID.every((d, i) => i === 0 || d > DISCARD_GRID[i - 1])).toBe(true);
  });
});

describe('floorSummary', () => {
  it('floorSummary should give the oracle pAUC, below every scorer of the set', () => {
    const d = data();
    const floor = floorSummary(d.verification[0]);
    // Two errors first: FNMR 2/6, 1/5, then 0; pAUC@0.2 = (1/6·1/3 + (0.2−1/6)·1/5)/(0.2·1/3), as 'aligned'.
    expect(floor.pauc02).toBeCloseTo((1 / 18 + (0.2 - 1 / 6) / 5) / (0.2 / 3), 12);
    for (const r of edcSummary(d)) expect(floor.pauc02).toBeLessThanOrEqual(r.pauc02);
    expect(floor.curve.discard).toEqual(DISCARD_GRID);
  });
});

/**
 * computeEval on a cache filled by hand (no model may start): eight images of three people, each
 * with an embedding of the configured embedder, scores of an inline regressor and, only for the
 * images inside the band, full DifFIQA. The files exist but are never decoded.
 */
describe('computeEval from a filled cache', () => {
  const CASCADE = 'cascade:diffiqa-r-own,diffiqa:diffiqa-unet-own';
  const band: Band = [0.4, 0.6];
  const files = ['p0.jpg', 'p1.jpg', 'p2.jpg', 'p3.jpg', 'p4.jpg', 'p5.jpg', 'p6.jpg', 'p7.jpg'];
  const people = ['A', 'A', 'A', 'B', 'B', 'B', 'C', 'C'];
  const inline = [0.9, 0.45, 0.3, 0.55, 0.8, 0.5, 0.2, 0.7];
  const full = [NaN, 0.7, NaN, -0.2, NaN, 0.1, NaN, NaN];
  const mobile = files.map((_, i) => Float32Array.from([people[i] === 'A' ? 1 : 0, people[i] === 'B' ? 1 : 0, people[i] === 'C' ? 1 : 0, 0.3 * Math.sin(7 * i)]));
  const dlib = files.map((_, i) => Float32Array.from([Math.cos(i), Math.sin(i), people[i] === 'A' ? 0.5 : -0.5]));
  let dir: string;
  let cfg: Config;
  let cacheDirOf: string;
  const noModels = { createRuntime: (): never => { throw new Error('no model may start: everything needed is cached'); } };
  const opts = (): EvalOptions => ({ data: path.join(dir, 'data'), cacheRoot: path.join(dir, 'cache'), scorers: [CASCADE, 'random'], repeats: 2, band,
    fr: ['mobilefacenet-dyn', 'dlib'], spearman: [['diffiqa-r-own', CASCADE]], scoreImages: 'genuine', progress: false });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'eval-filled-'));
    await mkdir(path.join(dir, 'data'));
    for (const f of files) await writeFile(path.join(dir, 'data', f), 'never decoded');
    await writeFile(path.join(dir, 'data', 'identity.txt'), `file identity\n${files.map((f, i) => `${f} ${people[i]}`).join('\n')}\n`);
    cfg = buildConfig({}, {}, { 'models.embedder': 'mobilefacenet-dyn' });
    const cache = await EvalCache.open(path.join(dir, 'cache'), cacheKey(cfg, path.join(dir, 'data')).key);
    cacheDirOf = cache.dir;
    await cache.append(files.map((file, i) => ({ file, face: new Uint8Array(112 * 112 * 3), embedding: mobile[i], eyeDistance: 30 + i, landmarks: [] })));
    const [c] = resolveLineup([CASCADE], { manifest: loadManifest(cfg.get('models.manifests')), embedderId: 'mobilefacenet-dyn', repeats: 2, runtime: noModels.createRuntime }, band);
    if (!isCascade(c)) throw new Error('not a cascade');
    await cache.writeScores(c.inline.key, Float32Array.from(inline));
    await cache.writeScores(c.full.key, Float32Array.from(full));
    await cache.close();
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  const writeDlib = async (rows: Float32Array[], count = rows.length) => {
    await writeFile(path.join(cacheDirOf, 'embeddings-dlib.f32'), Buffer.concat(rows.map((r) => Buffer.from(r.buffer))));
    await writeFile(path.join(cacheDirOf, 'embeddings-dlib.json'), JSON.stringify({ model: 'dlib_face_recognition_resnet_model_v1.dat', sha256: 'ab'.repeat(32), dim: 3, count }));
  };

  it('computeEval should fail with ASSET_NOT_FOUND naming the Python command when --fr dlib has no embeddings', async () => {
    const err = await computeEval(opts(), cfg, noModels).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GateError);
    expect((err as GateError).code).toBe('ASSET_NOT_FOUND');
    expect((err as GateError).message).toContain(`PYTHONPATH=models models/.venv/bin/python -m tools.embed_dlib --cache ${cacheDirOf}`);
    await writeDlib(dlib.slice(0, 5));
    expect(await computeEval(opts(), cfg, noModels).catch((e: GateError) => e.code)).toBe('ASSET_NOT_FOUND');
  });

  it('computeEval should refuse an FR model that is neither the embedder nor an external one', async () => {
    expect(await computeEval({ ...opts(), fr: ['arcface'] }, cfg, noModels).catch((e: GateError) => e.code)).toBe('USAGE');
  });

  it('computeEval should give one verification per FR model, from that model\'s embeddings', async () => {
    await writeDlib(dlib);
    const d = await computeEval(opts(), cfg, noModels);
    expect(d.verification.map((v) => [v.fr, v.label])).toEqual([['mobilefacenet-dyn', d.models.embedder], ['dlib', `dlib-resnet-v1@${'ab'.repeat(6)}`]]);
    const [m, l] = d.verification;
    expect(m.genuine.length).toBe(7);
    for (const [v, emb] of [[m, mobile], [l, dlib]] as const) {
      for (const g of v.genuine) expect(g.similarity).toBeCloseTo(cosine(emb[files.indexOf(g.a)], emb[files.indexOf(g.b)]), 6);
    }
    expect(l.genuine.map((g) => g.similarity)).not.toEqual(m.genuine.map((g) => g.similarity));
    // Each FR model has its own EDC and floor.
    const floor = floorSummary(l);
    expect(floor.pauc02).toBe(pauc(floorEdc(l.genuine.map((g) => g.similarity), l.threshold), 0.2));
    expect(edcSummary(d, l).map((r) => r.id)).toEqual([CASCADE, 'random', 'diffiqa-r-own']);
  });

  it('computeEval should score a cascade from its parts\' cached scores, full DifFIQA only in the band', async () => {
    await writeDlib(dlib);
    const d = await computeEval(opts(), cfg, noModels);
    const q = d.quality[CASCADE];
    const inBand = files.filter((_, i) => inline[i] >= band[0] && inline[i] < band[1]);
    expect(inBand).toEqual(['p1.jpg', 'p3.jpg', 'p5.jpg']);
    expect(d.escalated[CASCADE]).toEqual({ band, images: 3, share: 3 / 8 });
    expect(d.stats.computed[CASCADE]).toBe(0);
    // Below the band p6 (0.2) < p2 (0.3); the band by full DifFIQA, not by inline: p3 (−0.2) < p5 (0.1) < p1 (0.7); then p7, p4, p0.
    const order = [...files].sort((a, b) => q.get(a)! - q.get(b)!);
    expect(order).toEqual(['p6.jpg', 'p2.jpg', 'p3.jpg', 'p5.jpg', 'p1.jpg', 'p7.jpg', 'p4.jpg', 'p0.jpg']);
    for (const f of files) if (!inBand.includes(f)) expect(q.get(f)).toBe(Math.fround(inline[files.indexOf(f)]));
  });

  it('computeEval should rank-correlate the --spearman pair over the scored images, adding a scorer that is not in the line-up', async () => {
    await writeDlib(dlib);
    const d = await computeEval(opts(), cfg, noModels);
    expect(d.scorers.map((s) => s.id)).toContain('diffiqa-r-own');
    const [row] = d.spearman;
    const a = files.map((f) => d.quality['diffiqa-r-own'].get(f)!), b = files.map((f) => d.quality[CASCADE].get(f)!);
    expect(row).toEqual({ a: 'diffiqa-r-own', b: CASCADE, rho: spearman(a, b), images: 8 });
    expect(row.rho).toBeLessThan(1);
  });
});

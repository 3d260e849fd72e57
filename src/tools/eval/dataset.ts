import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GateError } from '../../plugin/core/errors.js';
import { listImages } from '../../plugin/core/files.js';
import { allPairs, parseIdentityList, parseLfwPairs, type VerificationPair } from './pairs.js';

export interface SetOptions {
  /** Folder per identity (LFW), or a flat folder with an identity list. */
  data: string;
  /** `file identity` list, files relative to `data`; default `<data>/identity.txt` for a flat folder. */
  identities?: string;
  /** LFW pairs.txt; its paths may be relative to `data` or to its parent. */
  pairs?: string;
  /** Keep the first ⌈N/2⌉ genuine and ⌊N/2⌋ impostor pairs, so a small run still has both kinds. */
  limit?: number;
  /** Impostor pairs drawn when there is no pairs list; default min(20 × genuine, 200 000). */
  impostors?: number;
  seed?: string;
}

export interface EvalSet {
  /** The data folder; every file below is relative to it, with '/' separators. */
  root: string;
  /** One line saying which pairs were compared. */
  protocol: string;
  pairs: VerificationPair[];
  /** The images the pairs need that exist, sorted. */
  files: string[];
  /** Images the pairs name that are not there. */
  missing: string[];
}

export const IMPOSTORS_PER_GENUINE = 20;
export const IMPOSTOR_CAP = 200_000;

const slash = (p: string) => p.split(path.sep).join('/');

/**
 * LFW lists say `lfw/<Name>/<Name>_0001.jpg`: relative to the data folder's parent. Accept that,
 * paths relative to the folder itself, and a renamed folder (first segment dropped), deciding on a
 * sample of the list so that one mapping holds for all.
 */
function pairPathMapper(root: string, pairs: readonly VerificationPair[]): (p: string) => string {
  const candidates: [string, (p: string) => string][] = [
    ['relative to the data folder', (p) => p],
    ['relative to its parent', (p) => slash(path.relative(root, path.join(path.dirname(root), p)))],
    ['with the first folder dropped', (p) => p.split('/').slice(1).join('/')],
  ];
  const sample = pairs.slice(0, 20).flatMap((p) => [p.a, p.b]);
  // The best mapping wins, not a perfect one: a few missing images are reported later, not fatal here.
  const found = candidates.map(([, map]) => sample.filter((p) => existsSync(path.join(root, map(p)))).length);
  const best = found.indexOf(Math.max(...found));
  if (found[best] * 2 >= sample.length && found[best] > 0) return candidates[best][1];
  throw new GateError('USAGE', `pairs list paths such as "${sample[0]}" are not found under ${root} (tried ${candidates.map((c) => c[0]).join(', ')})`);
}

async function identitiesOf(opts: SetOptions): Promise<Map<string, string>> {
  const root = opts.data;
  const list = opts.identities ?? path.join(root, 'identity.txt');
  if (opts.identities || existsSync(list)) return parseIdentityList(await readFile(list, 'utf8'));
  const files = (await listImages([root])).map((f) => slash(path.relative(root, f)));
  const flat = files.find((f) => !f.includes('/'));
  if (flat) throw new GateError('USAGE', `${root} has images outside identity folders (e.g. ${flat}): give --identities FILE`);
  return new Map(files.map((f) => [f, f.split('/')[0]]));
}

function limitPairs(pairs: VerificationPair[], limit: number | undefined): VerificationPair[] {
  if (limit === undefined) return pairs;
  if (!Number.isInteger(limit) || limit < 2) throw new GateError('USAGE', `--limit must be an integer >= 2, got ${limit}`);
  const genuine = pairs.filter((p) => p.genuine).slice(0, Math.ceil(limit / 2));
  const impostor = pairs.filter((p) => !p.genuine).slice(0, Math.floor(limit / 2));
  return [...genuine, ...impostor];
}

/** The pairs to compare and the images they need. */
export async function loadEvalSet(opts: SetOptions): Promise<EvalSet> {
  const root = opts.data;
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new GateError('USAGE', `--data ${root} is not a folder`);
  let pairs: VerificationPair[];
  let protocol: string;
  if (opts.pairs) {
    const lfw = parseLfwPairs(await readFile(opts.pairs, 'utf8'));
    const map = pairPathMapper(root, lfw);
    pairs = lfw.map((p) => ({ a: map(p.a), b: map(p.b), genuine: p.genuine }));
    protocol = `pairs list ${path.basename(opts.pairs)} (${lfw.length} pairs, ${new Set(lfw.map((p) => p.fold)).size} folds)`;
  } else {
    const ids = await identitiesOf(opts);
    const sizes = new Map<string, number>();
    for (const id of ids.values()) sizes.set(id, (sizes.get(id) ?? 0) + 1);
    const genuineCount = [...sizes.values()].reduce((n, k) => n + (k * (k - 1)) / 2, 0);
    const impostorSample = opts.impostors ?? Math.min(IMPOSTORS_PER_GENUINE * genuineCount, IMPOSTOR_CAP);
    const seed = opts.seed ?? 'diffiqa-evaluate';
    pairs = allPairs(ids, { impostorSample, seed });
    protocol = `all ${genuineCount} genuine pairs of ${ids.size} images / ${sizes.size} identities + ${pairs.length - genuineCount} impostor pairs sampled (seed "${seed}")`;
  }
  pairs = limitPairs(pairs, opts.limit);
  if (opts.limit !== undefined) protocol += `, limited to ${pairs.length}`;
  const needed = [...new Set(pairs.flatMap((p) => [p.a, p.b]))].sort();
  const files: string[] = [];
  const missing: string[] = [];
  for (const f of needed) (existsSync(path.join(root, f)) ? files : missing).push(f);
  return { root, protocol, pairs, files, missing };
}

import { GateError } from '../../plugin/core/errors.js';
import { createRng } from '../../plugin/core/random.js';

/**
 * Verification-pair lists for evaluation. Paths are relative to the data root
 * (e.g. ../shared/data) so the lists never carry a machine's layout.
 */
export interface VerificationPair {
  a: string;
  b: string;
  genuine: boolean;
}

export interface LfwPair extends VerificationPair {
  /** 0-based fold of the 10-fold protocol. */
  fold: number;
}

function bad(message: string, line: number): GateError {
  return new GateError('USAGE', `${message} (line ${line})`, { details: { line } });
}

/** `lfw/<Name>/<Name>_<NNNN>.jpg`, the image number zero-padded to 4 digits. */
export function lfwPath(name: string, imageNumber: number): string {
  return `lfw/${name}/${name}_${String(imageNumber).padStart(4, '0')}.jpg`;
}

function imageNumber(text: string, line: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1) throw bad(`bad image number "${text}"`, line);
  return n;
}

/**
 * Parses the official LFW `pairs.txt`: a header `<folds> <perSet>`, then per fold `perSet`
 * genuine lines `Name n1 n2` followed by `perSet` impostor lines `Name1 n1 Name2 n2`.
 * The layout is checked strictly: a list that is off by one line would silently mix folds.
 */
export function parseLfwPairs(text: string): LfwPair[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const header = (lines[0] ?? '').split(/\s+/);
  const folds = Number(header[0]);
  const perSet = Number(header[1]);
  if (header.length !== 2 || !Number.isInteger(folds) || !Number.isInteger(perSet) || folds < 1 || perSet < 1) {
    throw bad(`LFW pairs header must be "<folds> <pairsPerSet>", got "${lines[0] ?? ''}"`, 1);
  }
  const expected = 1 + folds * perSet * 2;
  if (lines.length !== expected) throw bad(`LFW pairs list should have ${expected} lines for ${folds}×2×${perSet} pairs, has ${lines.length}`, lines.length);

  const pairs: LfwPair[] = [];
  for (let i = 1; i < lines.length; i++) {
    const fold = Math.floor((i - 1) / (2 * perSet));
    const genuine = (i - 1) % (2 * perSet) < perSet;
    const f = lines[i].split(/\s+/);
    if (genuine) {
      if (f.length !== 3) throw bad(`genuine pair needs "Name n1 n2", got "${lines[i]}"`, i + 1);
      pairs.push({ fold, genuine, a: lfwPath(f[0], imageNumber(f[1], i + 1)), b: lfwPath(f[0], imageNumber(f[2], i + 1)) });
    } else {
      if (f.length !== 4) throw bad(`impostor pair needs "Name1 n1 Name2 n2", got "${lines[i]}"`, i + 1);
      pairs.push({ fold, genuine, a: lfwPath(f[0], imageNumber(f[1], i + 1)), b: lfwPath(f[2], imageNumber(f[3], i + 1)) });
    }
  }
  return pairs;
}

/**
 * Parses an identity list (`file identity` header, then `<file> <identity>` lines, as in
 * CelebA's identity_CelebA.txt) into file → identity. `prefix` is prepended to every file,
 * e.g. 'celeba-wild/' to make the paths relative to the data root like the LFW ones.
 */
export function parseIdentityList(text: string, opts: { prefix?: string } = {}): Map<string, string> {
  const prefix = opts.prefix ?? '';
  const map = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || (i === 0 && /^file\s+identity$/i.test(line))) return;
    const f = line.split(/\s+/);
    if (f.length !== 2) throw bad(`identity line needs "<file> <identity>", got "${line}"`, i + 1);
    const file = prefix + f[0];
    if (map.has(file)) throw bad(`file "${f[0]}" is listed twice`, i + 1);
    map.set(file, f[1]);
  });
  return map;
}

export interface AllPairsOptions {
  /** Number of distinct impostor pairs to draw; all of them when it is at least their total. */
  impostorSample: number;
  seed: number | string;
}

/**
 * Every genuine pair (all unordered pairs within each identity) and a seeded uniform sample of
 * distinct impostor pairs. Files are sorted first and each pair has a < b, so the result depends
 * only on the list's content and the seed, not on map order. Genuine pairs come first.
 */
export function allPairs(identities: ReadonlyMap<string, string>, opts: AllPairsOptions): VerificationPair[] {
  if (!Number.isInteger(opts.impostorSample) || opts.impostorSample < 0) {
    throw new GateError('USAGE', `impostorSample must be a non-negative integer, got ${opts.impostorSample}`);
  }
  const files = [...identities.keys()].sort();
  const id = files.map((f) => identities.get(f)!);
  const n = files.length;

  // Grouping first keeps this linear in the genuine pairs, not quadratic in the files.
  const groups = new Map<string, number[]>();
  id.forEach((identity, i) => {
    const g = groups.get(identity);
    if (g) g.push(i);
    else groups.set(identity, [i]);
  });
  const genuineIdx: [number, number][] = [];
  for (const g of groups.values()) {
    for (let x = 0; x < g.length; x++) for (let y = x + 1; y < g.length; y++) genuineIdx.push([g[x], g[y]]);
  }
  genuineIdx.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  const genuine = genuineIdx.map(([i, j]): VerificationPair => ({ a: files[i], b: files[j], genuine: true }));
  const impostorTotal = (n * (n - 1)) / 2 - genuine.length;
  const want = Math.min(opts.impostorSample, impostorTotal);
  const rng = createRng(opts.seed);
  const impostors: VerificationPair[] = [];

  if (want > impostorTotal / 2) {
    // Dense request: rejection sampling would stall, so shuffle the full list partially.
    const all: [number, number][] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (id[i] !== id[j]) all.push([i, j]);
    for (let k = 0; k < want; k++) {
      const r = k + rng.int(all.length - k);
      [all[k], all[r]] = [all[r], all[k]];
      impostors.push({ a: files[all[k][0]], b: files[all[k][1]], genuine: false });
    }
  } else {
    const seen = new Set<number>();
    while (impostors.length < want) {
      const x = rng.int(n);
      const y = rng.int(n);
      if (x === y || id[x] === id[y]) continue;
      const [i, j] = x < y ? [x, y] : [y, x];
      const key = i * n + j;
      if (seen.has(key)) continue;
      seen.add(key);
      impostors.push({ a: files[i], b: files[j], genuine: false });
    }
  }
  return [...genuine, ...impostors];
}

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GateError } from '../../../src/plugin/core/errors.js';
import { allPairs, lfwPath, parseIdentityList, parseLfwPairs, type VerificationPair } from '../../../src/tools/eval/pairs.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const sharedDir = process.env.DIFFIQA_SHARED ?? path.resolve(repoRoot, '../shared');

/** The real data lives outside the repo (licences); its absence must fail loudly, not skip. */
function sharedData(rel: string): string {
  const dataDir = path.join(sharedDir, 'data');
  if (!existsSync(dataDir)) {
    throw new Error(`shared data not found at ${dataDir}: put the read-only shared/ folder beside the repo or set DIFFIQA_SHARED`);
  }
  return path.join(dataDir, rel);
}

function pairKey(p: VerificationPair): string {
  return `${p.a}|${p.b}`;
}

function expectUsage(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(GateError);
  expect((caught as GateError).code).toBe('USAGE');
  expect((caught as GateError).message).toMatch(message);
}

describe('lfwPath', () => {
  it('lfwPath should zero-pad the image number to 4 digits', () => {
    expect(lfwPath('Abel_Pacheco', 4)).toBe('lfw/Abel_Pacheco/Abel_Pacheco_0004.jpg');
    expect(lfwPath('George_W_Bush', 530)).toBe('lfw/George_W_Bush/George_W_Bush_0530.jpg');
  });
});

describe('parseLfwPairs', () => {
  it('parseLfwPairs should assign folds and genuine flags from the layout', () => {
    const text = '2\t1\nAnn\t1\t2\nAnn\t1\tBob\t3\nCid\t2\t5\nDan\t1\tEve\t12\n';
    expect(parseLfwPairs(text)).toEqual([
      { fold: 0, genuine: true, a: 'lfw/Ann/Ann_0001.jpg', b: 'lfw/Ann/Ann_0002.jpg' },
      { fold: 0, genuine: false, a: 'lfw/Ann/Ann_0001.jpg', b: 'lfw/Bob/Bob_0003.jpg' },
      { fold: 1, genuine: true, a: 'lfw/Cid/Cid_0002.jpg', b: 'lfw/Cid/Cid_0005.jpg' },
      { fold: 1, genuine: false, a: 'lfw/Dan/Dan_0001.jpg', b: 'lfw/Eve/Eve_0012.jpg' },
    ]);
  });

  it('parseLfwPairs should reject a list that does not match its header', () => {
    expectUsage(() => parseLfwPairs('2 1\nAnn 1 2\nAnn 1 Bob 3\n'), /should have 5 lines/);
    expectUsage(() => parseLfwPairs('1 1\nAnn 1 Bob 3\nAnn 1 2\n'), /genuine pair needs/);
    expectUsage(() => parseLfwPairs('1 1\nAnn 1 2\nAnn x Bob 3\n'), /bad image number/);
    expectUsage(() => parseLfwPairs('ten\n'), /header/);
  });

  it('parseLfwPairs should read the official list: 10 folds of 300 + 300, all files present', () => {
    const pairs = parseLfwPairs(readFileSync(sharedData('lfw-pairs.txt'), 'utf8'));
    expect(pairs).toHaveLength(6000);
    expect(pairs.filter((p) => p.genuine)).toHaveLength(3000);
    expect(pairs.filter((p) => !p.genuine)).toHaveLength(3000);
    for (let fold = 0; fold < 10; fold++) {
      const inFold = pairs.filter((p) => p.fold === fold);
      expect(inFold.filter((p) => p.genuine)).toHaveLength(300);
      expect(inFold.filter((p) => !p.genuine)).toHaveLength(300);
    }
    expect(pairs[0]).toEqual({ fold: 0, genuine: true, a: 'lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg', b: 'lfw/Abel_Pacheco/Abel_Pacheco_0004.jpg' });
    const missing = new Set(pairs.flatMap((p) => [p.a, p.b]).filter((f) => !existsSync(sharedData(f))));
    expect([...missing]).toEqual([]);
  });
});

describe('parseIdentityList', () => {
  it('parseIdentityList should skip the header and prefix files', () => {
    const map = parseIdentityList('file identity\n000114.jpg 7201\n000200.jpg 12\n\n', { prefix: 'celeba-wild/' });
    expect([...map]).toEqual([['celeba-wild/000114.jpg', '7201'], ['celeba-wild/000200.jpg', '12']]);
  });

  it('parseIdentityList should refuse malformed or duplicate lines', () => {
    expectUsage(() => parseIdentityList('file identity\n000114.jpg\n'), /line 2/);
    expectUsage(() => parseIdentityList('a.jpg 1\na.jpg 2\n'), /listed twice/);
  });

  it('parseIdentityList should read celeba-wild: 2,988 files of 150 identities, all present', () => {
    const map = parseIdentityList(readFileSync(sharedData('celeba-wild/identity.txt'), 'utf8'), { prefix: 'celeba-wild/' });
    expect(map.size).toBe(2988);
    expect(new Set(map.values()).size).toBe(150);
    expect(map.get('celeba-wild/001085.jpg')).toBe('7201');
    expect([...map.keys()].filter((f) => !existsSync(sharedData(f)))).toEqual([]);
  });
});

describe('allPairs', () => {
  // A: 3 files, B: 2, C: 1 → genuine C(3,2) + C(2,2) = 4; impostor C(6,2) − 4 = 11.
  const small = new Map([['b1', 'B'], ['a1', 'A'], ['c1', 'C'], ['a3', 'A'], ['b2', 'B'], ['a2', 'A']]);
  const identityOf = (f: string): string => small.get(f)!;

  it('allPairs should list every genuine pair once, sorted, before the impostors', () => {
    const pairs = allPairs(small, { impostorSample: 3, seed: 1 });
    expect(pairs.slice(0, 4)).toEqual([
      { a: 'a1', b: 'a2', genuine: true },
      { a: 'a1', b: 'a3', genuine: true },
      { a: 'a2', b: 'a3', genuine: true },
      { a: 'b1', b: 'b2', genuine: true },
    ]);
    expect(pairs.slice(4).every((p) => !p.genuine)).toBe(true);
    expect(pairs).toHaveLength(7);
  });

  it('allPairs should sample distinct cross-identity impostors reproducibly', () => {
    for (const sample of [5, 8, 11, 50]) {
      // 8 and 11 exceed half of the 11 impostors: the shuffle path; 50 is capped at 11.
      const impostors = allPairs(small, { impostorSample: sample, seed: 'x' }).filter((p) => !p.genuine);
      expect(impostors).toHaveLength(Math.min(sample, 11));
      expect(new Set(impostors.map(pairKey)).size).toBe(impostors.length);
      for (const p of impostors) {
        expect(p.a < p.b).toBe(true);
        expect(identityOf(p.a)).not.toBe(identityOf(p.b));
      }
      expect(allPairs(small, { impostorSample: sample, seed: 'x' })).toEqual(allPairs(small, { impostorSample: sample, seed: 'x' }));
    }
  });

  it('allPairs should not depend on the map order', () => {
    const reversed = new Map([...small].reverse());
    expect(allPairs(reversed, { impostorSample: 4, seed: 9 })).toEqual(allPairs(small, { impostorSample: 4, seed: 9 }));
  });

  it('allPairs should pair the real celeba-wild list', () => {
    const map = parseIdentityList(readFileSync(sharedData('celeba-wild/identity.txt'), 'utf8'), { prefix: 'celeba-wild/' });
    const sizes = new Map<string, number>();
    for (const identity of map.values()) sizes.set(identity, (sizes.get(identity) ?? 0) + 1);
    const expectedGenuine = [...sizes.values()].reduce((s, k) => s + (k * (k - 1)) / 2, 0);

    const pairs = allPairs(map, { impostorSample: 20_000, seed: 'celeba' });
    const genuine = pairs.filter((p) => p.genuine);
    const impostors = pairs.filter((p) => !p.genuine);
    expect(genuine).toHaveLength(expectedGenuine);
    expect(genuine.every((p) => map.get(p.a) === map.get(p.b))).toBe(true);
    expect(impostors).toHaveLength(20_000);
    expect(impostors.every((p) => map.get(p.a) !== map.get(p.b))).toBe(true);
    expect(new Set(impostors.map(pairKey)).size).toBe(20_000);
    const other = allPairs(map, { impostorSample: 20_000, seed: 'other' }).filter((p) => !p.genuine);
    expect(other.map(pairKey)).not.toEqual(impostors.map(pairKey));
  });
});

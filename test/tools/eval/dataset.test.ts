import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GateError } from '../../../src/plugin/core/errors.js';
import { loadEvalSet } from '../../../src/tools/eval/dataset.js';

/** A tiny LFW-shaped tree: <data>/<Name>/<Name>_000n.jpg (empty files: only names matter here). */
async function lfwTree(data: string, people: Record<string, number>): Promise<string> {
  for (const [name, n] of Object.entries(people)) {
    await mkdir(path.join(data, name), { recursive: true });
    for (let i = 1; i <= n; i++) await writeFile(path.join(data, name, `${name}_${String(i).padStart(4, '0')}.jpg`), '');
  }
  return data;
}

const PAIRS = ['1\t2', 'Ann\t1\t2', 'Bob\t1\t3', 'Ann\t1\tBob\t2', 'Ann\t2\tCid\t1'].join('\n');

async function expectUsage(p: Promise<unknown>): Promise<void> {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof GateError && e.code === 'USAGE');
}

describe('loadEvalSet', () => {
  let root: string;
  beforeEach(async () => { root = await mkdtemp(path.join(tmpdir(), 'evalset-')); });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  it('loadEvalSet should map lfw/<Name>/... pair paths onto the data folder and list missing images', async () => {
    // Bob has 2 images: Bob_0003 is named by the list but is not there.
    const data = await lfwTree(path.join(root, 'lfw'), { Ann: 2, Bob: 2, Cid: 1 });
    await writeFile(path.join(root, 'pairs.txt'), PAIRS.replace(/Bob\t1\t3/, 'Bob\t1\t2') + '\n');
    const set = await loadEvalSet({ data, pairs: path.join(root, 'pairs.txt') });
    expect(set.pairs).toEqual([
      { a: 'Ann/Ann_0001.jpg', b: 'Ann/Ann_0002.jpg', genuine: true },
      { a: 'Bob/Bob_0001.jpg', b: 'Bob/Bob_0002.jpg', genuine: true },
      { a: 'Ann/Ann_0001.jpg', b: 'Bob/Bob_0002.jpg', genuine: false },
      { a: 'Ann/Ann_0002.jpg', b: 'Cid/Cid_0001.jpg', genuine: false },
    ]);
    expect(set.files).toEqual(['Ann/Ann_0001.jpg', 'Ann/Ann_0002.jpg', 'Bob/Bob_0001.jpg', 'Bob/Bob_0002.jpg', 'Cid/Cid_0001.jpg']);
    expect(set.missing).toEqual([]);

    await writeFile(path.join(root, 'pairs3.txt'), PAIRS + '\n');
    const withMissing = await loadEvalSet({ data, pairs: path.join(root, 'pairs3.txt') });
    expect(withMissing.missing).toEqual(['Bob/Bob_0003.jpg']);
    expect(withMissing.files).not.toContain('Bob/Bob_0003.jpg');
  });

  it('loadEvalSet should accept pair paths relative to the data folder itself, or to a renamed folder', async () => {
    await writeFile(path.join(root, 'pairs.txt'), PAIRS);
    const people = { Ann: 2, Bob: 3, Cid: 1 };
    const inside = await lfwTree(path.join(root, 'set', 'lfw'), people);
    const set = await loadEvalSet({ data: path.dirname(inside), pairs: path.join(root, 'pairs.txt') });
    expect(set.pairs[0]).toEqual({ a: 'lfw/Ann/Ann_0001.jpg', b: 'lfw/Ann/Ann_0002.jpg', genuine: true });
    const renamed = await lfwTree(path.join(root, 'lfw-deepfunneled'), people);
    const set2 = await loadEvalSet({ data: renamed, pairs: path.join(root, 'pairs.txt') });
    expect(set2.pairs[0]).toEqual({ a: 'Ann/Ann_0001.jpg', b: 'Ann/Ann_0002.jpg', genuine: true });
    expect(set2.missing).toEqual([]);
  });

  it('loadEvalSet should fail with USAGE when the pair paths match no layout', async () => {
    const data = await lfwTree(path.join(root, 'lfw'), { Zed: 2 });
    await writeFile(path.join(root, 'pairs.txt'), PAIRS);
    await expectUsage(loadEvalSet({ data, pairs: path.join(root, 'pairs.txt') }));
  });

  it('loadEvalSet should build all genuine pairs plus a seeded impostor sample from identity folders', async () => {
    const data = await lfwTree(path.join(root, 'lfw'), { Ann: 3, Bob: 2, Cid: 1 });
    const set = await loadEvalSet({ data, impostors: 5, seed: 's' });
    const genuine = set.pairs.filter((p) => p.genuine);
    expect(genuine).toHaveLength(3 + 1);
    expect(set.pairs.filter((p) => !p.genuine)).toHaveLength(5);
    for (const p of set.pairs) expect(p.a.split('/')[0] === p.b.split('/')[0]).toBe(p.genuine);
    expect(await loadEvalSet({ data, impostors: 5, seed: 's' })).toEqual(set);
  });

  it('loadEvalSet should default to 20 impostors per genuine pair, capped by what exists', async () => {
    const data = await lfwTree(path.join(root, 'lfw'), { Ann: 3, Bob: 2, Cid: 1 });
    const set = await loadEvalSet({ data });
    // 6 images: 15 pairs, 4 genuine, so 11 impostor pairs exist (< 20 × 4).
    expect(set.pairs.filter((p) => !p.genuine)).toHaveLength(11);
  });

  it('loadEvalSet should read a flat folder through its identity list, and refuse one without', async () => {
    const data = path.join(root, 'flat');
    await mkdir(data);
    for (const f of ['1.jpg', '2.jpg', '3.jpg']) await writeFile(path.join(data, f), '');
    await expectUsage(loadEvalSet({ data }));
    await writeFile(path.join(data, 'identity.txt'), 'file identity\n1.jpg 7\n2.jpg 7\n3.jpg 9\n');
    const set = await loadEvalSet({ data, seed: 'x' });
    expect(set.pairs.filter((p) => p.genuine)).toEqual([{ a: '1.jpg', b: '2.jpg', genuine: true }]);
    expect(set.pairs.filter((p) => !p.genuine)).toHaveLength(2);
  });

  it('loadEvalSet should keep the first ⌈N/2⌉ genuine and ⌊N/2⌋ impostor pairs with --limit', async () => {
    const data = await lfwTree(path.join(root, 'lfw'), { Ann: 3, Bob: 2, Cid: 1 });
    const full = await loadEvalSet({ data, impostors: 8, seed: 's' });
    const set = await loadEvalSet({ data, impostors: 8, seed: 's', limit: 5 });
    expect(set.pairs).toEqual([...full.pairs.filter((p) => p.genuine).slice(0, 3), ...full.pairs.filter((p) => !p.genuine).slice(0, 2)]);
    expect(set.files).toEqual([...new Set(set.pairs.flatMap((p) => [p.a, p.b]))].sort());
    await expectUsage(loadEvalSet({ data, limit: 1 }));
  });

  it('loadEvalSet should fail with USAGE when --data is not a folder', async () => {
    await expectUsage(loadEvalSet({ data: path.join(root, 'nope') }));
  });
});

import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EvalCache, isSkip, keyHash } from '../../../src/tools/eval/cache.js';
import { GateError } from '../../../src/plugin/core/errors.js';

const SIZE = 16;
const face = (fill: number) => new Uint8Array(SIZE * SIZE * 3).fill(fill);
const item = (file: string, fill: number) => ({ file, face: face(fill), embedding: Float32Array.from([fill, fill + 0.5, -fill]), eyeDistance: fill + 0.123, landmarks: [[1.234, 2.345]] as [number, number][] });

describe('EvalCache', () => {
  let root: string;
  beforeEach(async () => { root = await mkdtemp(path.join(tmpdir(), 'evalcache-')); });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  it('keyHash should not depend on property order and should change with any value', () => {
    expect(keyHash({ a: 1, b: { c: 2, d: 3 } })).toBe(keyHash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(keyHash({ a: 1, b: { c: 2, d: 3 } })).not.toBe(keyHash({ a: 1, b: { c: 2, d: 4 } }));
  });

  it('append should give rows in order and survive a reopen (faces, embeddings, records, skips)', async () => {
    const c = await EvalCache.open(root, { k: 1 }, SIZE);
    await c.append([item('a.jpg', 1), { file: 'bad.jpg', skip: 'INPUT_NO_FACE', message: 'no face' }, item('b.jpg', 2)]);
    await c.close();
    const d = await EvalCache.open(root, { k: 1 }, SIZE);
    expect(d.rows).toBe(2);
    expect(d.dim).toBe(3);
    const a = d.record('a.jpg')!, b = d.record('b.jpg')!, bad = d.record('bad.jpg')!;
    expect(isSkip(a) ? -1 : a.row).toBe(0);
    expect(isSkip(b) ? -1 : b.row).toBe(1);
    expect(isSkip(bad) && bad.skip).toBe('INPUT_NO_FACE');
    expect(isSkip(a) ? undefined : a.landmarks).toEqual([[1.23, 2.35]]);
    const [fb, fa] = await d.faces([1, 0]);
    expect(fa.every((v) => v === 1) && fb.every((v) => v === 2)).toBe(true);
    const e = await d.embeddings();
    expect([...e[1]]).toEqual([2, 2.5, -2]);
    expect(d.record('never.jpg')).toBeUndefined();
    await d.close();
  });

  it('open should use a separate folder per key', async () => {
    const c = await EvalCache.open(root, { k: 1 }, SIZE);
    await c.append([item('a.jpg', 1)]);
    await c.close();
    const other = await EvalCache.open(root, { k: 2 }, SIZE);
    expect(other.rows).toBe(0);
    expect(other.dir).not.toBe(c.dir);
    await other.close();
  });

  it('open should cut bytes a killed run appended after the last index write', async () => {
    const c = await EvalCache.open(root, { k: 1 }, SIZE);
    await c.append([item('a.jpg', 1)]);
    await c.close();
    await appendFile(path.join(c.dir, 'faces.u8'), face(9));
    const d = await EvalCache.open(root, { k: 1 }, SIZE);
    await d.append([item('b.jpg', 2)]);
    const [fb] = await d.faces([1]);
    expect(fb.every((v) => v === 2)).toBe(true);
    await d.close();
  });

  it('scores should be NaN until written, and rows appended later should read as NaN', async () => {
    const c = await EvalCache.open(root, { k: 1 }, SIZE);
    await c.append([item('a.jpg', 1), item('b.jpg', 2)]);
    expect([...(await c.scores('s@v1'))].every(Number.isNaN)).toBe(true);
    await c.writeScores('s@v1', Float32Array.from([0.5, NaN]));
    await c.append([item('c.jpg', 3)]);
    const s = await c.scores('s@v1');
    expect(s[0]).toBe(0.5);
    expect(Number.isNaN(s[1]) && Number.isNaN(s[2])).toBe(true);
    expect([...(await c.scores('diffiqa:x@abc/r10'))].every(Number.isNaN)).toBe(true);
    await c.close();
  });

  it('open should refuse a cache locked by a live process and take over a dead one', async () => {
    const c = await EvalCache.open(root, { k: 1 }, SIZE);
    await c.close();
    // The parent of this test process is alive and is not us.
    await writeFile(path.join(c.dir, 'lock'), String(process.ppid));
    await expect(EvalCache.open(root, { k: 1 }, SIZE)).rejects.toSatisfy((e: unknown) => e instanceof GateError && e.code === 'USAGE');
    await writeFile(path.join(c.dir, 'lock'), '2147483646');
    const d = await EvalCache.open(root, { k: 1 }, SIZE);
    await d.close();
  });
});

import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileWatch } from '../../../src/plugin/core/watch.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FileWatch', () => {
  let dir: string;
  const watches: FileWatch[] = [];
  beforeEach(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'diffiqa-watch-')); });
  afterEach(async () => { for (const w of watches.splice(0)) w.close(); await rm(dir, { recursive: true, force: true }); });

  function watch(files: string[], debounceMs = 150): { calls: number[] } {
    const seen = { calls: [] as number[] };
    const w = new FileWatch({ intervalMs: 20, debounceMs }, () => seen.calls.push(Date.now()));
    w.set(files);
    watches.push(w);
    return seen;
  }

  it('set should call onChange once for a burst of writes, after the quiet time', async () => {
    const file = path.join(dir, 'a.yaml');
    await writeFile(file, 'one');
    const seen = watch([file]);
    await sleep(60);
    for (let i = 0; i < 4; i++) { await writeFile(file, `write ${i}`.repeat(i + 1)); await sleep(40); }
    await sleep(400);
    expect(seen.calls).toHaveLength(1);
  });

  it('set should notice a file replaced by rename, and one that did not exist when the watch began', async () => {
    const file = path.join(dir, 'model.onnx');
    const seen = watch([file], 50);
    await sleep(60);
    await writeFile(file, 'arrived later');
    await sleep(300);
    expect(seen.calls).toHaveLength(1);
    await writeFile(`${file}.tmp`, 'replaced atomically');
    await rename(`${file}.tmp`, file);
    await sleep(300);
    expect(seen.calls).toHaveLength(2);
  });

  it('set should stop watching dropped files, and close should drop a pending change', async () => {
    const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
    await writeFile(a, 'a');
    await writeFile(b, 'b');
    const seen = watch([a, b], 100);
    watches[0].set([b]);
    await sleep(60);
    await writeFile(a, 'a changed');
    await sleep(300);
    expect(seen.calls).toHaveLength(0);
    await writeFile(b, 'b changed');
    await sleep(60);
    watches[0].close();
    await sleep(300);
    expect([seen.calls.length, watches[0].files]).toEqual([0, []]);
  });
});

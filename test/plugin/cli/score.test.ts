import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { buildConfig } from '../../../src/plugin/config/load.js';
import { scoreCommand } from '../../../src/plugin/cli/score.js';
import { main } from '../../../src/plugin/cli/main.js';
import { sharedDir, sharedPath } from '../../helpers/shared.js';

function folder(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'score-'));
  copyFileSync(sharedPath('data', 'lfw', 'Aaron_Eckhart', 'Aaron_Eckhart_0001.jpg'), path.join(dir, 'a.jpg'));
  copyFileSync(sharedPath('data', 'lfw', 'Abel_Pacheco', 'Abel_Pacheco_0001.jpg'), path.join(dir, 'b.jpg'));
  writeFileSync(path.join(dir, 'c.jpg'), 'not an image at all');
  writeFileSync(path.join(dir, 'd.png'), Buffer.alloc(0));
  writeFileSync(path.join(dir, 'notes.txt'), 'a file not named like an image');
  return dir;
}

describe('score command', () => {
  it('scoreCommand should print one JSON line per file, with the default (project) regressor and a reason code for bad, non-image and missing files', async () => {
    const lines: string[] = [];
    const cfg = buildConfig({}, {}, { 'models.mirror': sharedDir() });
    const dir = folder();
    const missing = path.join(dir, 'gone.jpg');
    const result = await scoreCommand({ inputs: [dir, missing], format: 'jsonl' }, cfg, (l) => lines.push(l));
    expect(result).toMatchObject({ ok: 2, failed: 4 });
    expect(result.failures.map((f) => [path.basename(f.file), f.reason])).toEqual([
      ['c.jpg', 'INPUT_IMAGE_FORMAT'], ['d.png', 'INPUT_EMPTY_IMAGE'], ['notes.txt', 'INPUT_IMAGE_FORMAT'], ['gone.jpg', 'FILE_NOT_FOUND'],
    ]);
    const rows = lines.map((l) => JSON.parse(l));
    expect(rows.map((r) => path.basename(r.file))).toEqual(['a.jpg', 'b.jpg', 'c.jpg', 'd.png', 'notes.txt', 'gone.jpg']);
    for (const r of rows.slice(0, 2)) {
      expect(Number.isFinite(r.score)).toBe(true);
      expect(r.model).toMatch(/^ediffiqa-t-own@/);
      expect(r.latencyMs).toBeGreaterThan(0);
      expect(r).not.toHaveProperty('ms');
    }
    expect(rows[2]).toMatchObject({ score: null, reason: 'INPUT_IMAGE_FORMAT' });
    expect(rows[3]).toMatchObject({ score: null, reason: 'INPUT_EMPTY_IMAGE' });
    expect(rows[4]).toMatchObject({ score: null, reason: 'INPUT_IMAGE_FORMAT' });
    expect(rows[5]).toMatchObject({ score: null, reason: 'FILE_NOT_FOUND' });
  });

  it('main should exit 1 when a file failed, after every line, with the failed files summarised on stderr', async () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err.push(String(s)); return true; });
    const dir = folder();
    try {
      expect(await main(['score', path.join(dir, 'a.jpg'), path.join(dir, 'gone.jpg')])).toBe(1);
      expect(await main(['score', path.join(dir, 'a.jpg')])).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
    expect(out.join('').trim().split('\n')).toHaveLength(3);
    const summary = err.join('');
    expect(summary).toContain('score: 1 of 2 files scored, 1 failed');
    expect(summary).toContain('failed by reason: FILE_NOT_FOUND 1');
    expect(summary).toContain(`FILE_NOT_FOUND  ${path.join(dir, 'gone.jpg')}`);
    expect(summary).toContain('score: 1 of 1 files scored, 0 failed');
  });

  it('main should exit 2 for --model naming a denoiser or an embedder, before any line', async () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err.push(String(s)); return true; });
    try {
      const img = path.join(folder(), 'a.jpg');
      expect(await main(['score', '--model', 'diffiqa-unet-own', img])).toBe(2);
      expect(await main(['score', '--model', 'mobilefacenet', img])).toBe(2);
    } finally {
      vi.restoreAllMocks();
    }
    expect(out).toEqual([]);
    expect(err.join('')).toContain('[USAGE] --model diffiqa-unet-own is a denoiser, not a quality regressor; for full DifFIQA with it: --model diffiqa:diffiqa-unet-own');
    expect(err.join('')).toContain('[USAGE] --model mobilefacenet is an embedder, not a quality regressor');
  });

  it('scoreCommand should write CSV with a header and quote messages', async () => {
    const lines: string[] = [];
    const cfg = buildConfig({}, {}, { 'models.mirror': sharedDir() });
    await scoreCommand({ inputs: [path.join(folder(), 'c.jpg')], format: 'csv' }, cfg, (l) => lines.push(l));
    expect(lines[0]).toBe('file,score,model,latencyMs,reason,message');
    expect(lines[1]).toMatch(/,INPUT_IMAGE_FORMAT,/);
  });

  it('scoreCommand should print full DifFIQA per image with --model diffiqa:<denoiser>, the same score on a rerun', async () => {
    const cfg = buildConfig({}, {}, { 'models.mirror': sharedDir() });
    const dir = folder();
    const run = async (repeats: number) => {
      const lines: string[] = [];
      const result = await scoreCommand({ inputs: [dir], model: 'diffiqa:diffiqa-unet-own', repeats, format: 'jsonl' }, cfg, (l) => lines.push(l));
      return { result, rows: lines.map((l) => JSON.parse(l)) };
    };
    const { result, rows } = await run(2);
    expect(result).toMatchObject({ ok: 2, failed: 3 });
    for (const r of rows.slice(0, 2)) {
      expect(r.model).toMatch(/^diffiqa:diffiqa-unet-own@/);
      expect(r.repeats).toBe(2);
      expect(Number.isFinite(r.score) && Number.isFinite(r.std)).toBe(true);
    }
    expect(rows[0].score).not.toBe(rows[1].score);
    expect(rows[2]).toMatchObject({ score: null, reason: 'INPUT_IMAGE_FORMAT' });
    // Noise is seeded by the file: a rerun gives the same scores; other repeats another estimate.
    const again = await run(2);
    expect(again.rows.map((r) => r.score)).toEqual(rows.map((r) => r.score));
    const three = await run(3);
    expect(three.rows[0].repeats).toBe(3);
    expect(three.rows[0].score).not.toBe(rows[0].score);
  }, 300_000);

  it('main should exit 2 with MODEL_UNKNOWN for a missing or unknown model id, or one that is not a denoiser', async () => {
    const err: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err.push(String(s)); return true; });
    try {
      const img = path.join(folder(), 'a.jpg');
      for (const model of ['diffiqa:', 'diffiqa:no-such-denoiser', 'diffiqa:diffiqa-r-own', 'no-such-regressor']) {
        err.length = 0;
        expect(await main(['score', '--model', model, img]), model).toBe(2);
        expect(err.join(''), model).toContain('[MODEL_UNKNOWN]');
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('main should exit 2 for usage errors and unknown commands', async () => {
    expect(await main(['score', '--format', 'xml', 'x.jpg'])).toBe(2);
    expect(await main(['score'])).toBe(2);
    expect(await main(['no-such-command'])).toBe(2);
  });
});

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
  return dir;
}

describe('score command', () => {
  it('scoreCommand should print one JSON line per image with the default (project) regressor and a reason code for bad files', async () => {
    const lines: string[] = [];
    const cfg = buildConfig({}, {}, { 'models.mirror': sharedDir() });
    const result = await scoreCommand({ inputs: [folder()], format: 'jsonl' }, cfg, (l) => lines.push(l));
    expect(result).toEqual({ ok: 2, failed: 2 });
    const rows = lines.map((l) => JSON.parse(l));
    expect(rows.map((r) => path.basename(r.file))).toEqual(['a.jpg', 'b.jpg', 'c.jpg', 'd.png']);
    for (const r of rows.slice(0, 2)) {
      expect(Number.isFinite(r.score)).toBe(true);
      expect(r.model).toMatch(/^diffiqa-r-own@/);
      expect(r.ms).toBeGreaterThan(0);
    }
    expect(rows[2]).toMatchObject({ score: null, reason: 'INPUT_IMAGE_FORMAT' });
    expect(rows[3]).toMatchObject({ score: null, reason: 'INPUT_EMPTY_IMAGE' });
  });

  it('scoreCommand should write CSV with a header and quote messages', async () => {
    const lines: string[] = [];
    const cfg = buildConfig({}, {}, { 'models.mirror': sharedDir() });
    await scoreCommand({ inputs: [path.join(folder(), 'c.jpg')], format: 'csv' }, cfg, (l) => lines.push(l));
    expect(lines[0]).toBe('file,score,model,ms,reason,message');
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
    expect(result).toEqual({ ok: 2, failed: 2 });
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

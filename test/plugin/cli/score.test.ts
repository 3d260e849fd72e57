import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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

  it('main should exit 2 for usage errors and unknown commands', async () => {
    expect(await main(['score', '--format', 'xml', 'x.jpg'])).toBe(2);
    expect(await main(['score'])).toBe(2);
    expect(await main(['no-such-command'])).toBe(2);
  });
});

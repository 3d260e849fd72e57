import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createQualityScorer, type QualityScorer } from '../../../src/plugin/app/quality.js';
import { sharedDir, sharedPath } from '../../helpers/shared.js';

const face = (name: string) => readFileSync(sharedPath('data', 'lfw', name, `${name}_0001.jpg`));
const open: QualityScorer[] = [];
afterAll(async () => { await Promise.all(open.map((s) => s.close())); });

describe('quality scorer', () => {
  it('score should give one result per input in order, with a coded error for a broken image', async () => {
    const scorer = await createQualityScorer({ config: { 'models.mirror': sharedDir(), 'inference.workers': 1 } });
    open.push(scorer);
    const results = await scorer.score([face('Aaron_Eckhart'), { bytes: Buffer.from('not an image'), id: 'broken' }, { bytes: new Uint8Array(face('Abel_Pacheco')), id: 'b' }]);
    expect(results.map((r) => r.id)).toEqual(['0', 'broken', 'b']);
    for (const r of [results[0], results[2]]) {
      expect(Number.isFinite(r.score)).toBe(true);
      expect(r.inline?.modelId).toBe('ediffiqa-t-own');
      expect(['ACCEPT', 'REJECT', 'BORDERLINE']).toContain(r.decision);
      expect(r.full).toBeUndefined();
    }
    expect(results[1]).toMatchObject({ error: { code: 'INPUT_IMAGE_FORMAT', canRetry: false } });
    expect(results[1].score).toBeUndefined();
  });

  it('score should run full DifFIQA on the borderline faces only in cascade mode', async () => {
    // accept above every score, reject below: every face is borderline and escalated.
    const scorer = await createQualityScorer({ mode: 'cascade', config: { 'models.mirror': sharedDir(), 'inference.workers': 1, 'gate.accept': 1e9, 'gate.reject': -1e9, 'escalation.repeats': 1 } });
    open.push(scorer);
    const [r] = await scorer.score([{ bytes: face('Aaron_Eckhart'), id: 'x' }]);
    expect(r.full?.modelId).toBe('diffiqa-unet-own');
    expect(r.score).toBe(r.full?.score);
    expect(r.inline).toBeDefined();
    expect(['ACCEPT', 'REJECT']).toContain(r.decision);
  });

  it('createQualityScorer should refuse an unknown mode with a coded error', async () => {
    await expect(createQualityScorer({ mode: 'fast' as never })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('process should refuse work once closed', async () => {
    const scorer = await createQualityScorer({ config: { 'models.mirror': sharedDir(), 'inference.workers': 1 } });
    await scorer.close();
    await scorer.close();
    await expect(scorer.score([face('Aaron_Eckhart')])).rejects.toMatchObject({ code: 'INFER_CLOSED' });
  });
});

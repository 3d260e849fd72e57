import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/plugin/face/decode.js';
import { detectFace, type InferFn } from '../../../src/plugin/face/detect.js';
import { priors, RETINAFACE_OUTPUTS } from '../../../src/plugin/face/retinaface.js';
import { createDirectInfer } from '../../helpers/direct-infer.js';
import { DETECTOR, LIMITS, sharedPath } from './fixtures.js';

const direct = createDirectInfer();
afterAll(() => direct.close());

/** Every 50th LFW identity: a spread of faces without reading all 5,749 folders' images. */
function lfwSample(count: number): string[] {
  const root = sharedPath('data', 'lfw');
  return readdirSync(root).filter((_, i) => i % 50 === 0).slice(0, count).map((name) => {
    const dir = path.join(root, name);
    return path.join(dir, readdirSync(dir)[0]);
  });
}

describe('detectFace', () => {
  it('detectFace should find the face of LFW images in the central region, in ArcFace landmark order', async () => {
    const files = lfwSample(20);
    for (const file of files) {
      const img = await decodeImage(readFileSync(file), LIMITS);
      const { landmarks, score, box } = await detectFace(img, direct.infer, DETECTOR);
      expect(score, file).toBeGreaterThan(0.9);
      // LFW deep-funneled images are 250×250 with the face centred.
      for (const [x, y] of landmarks) {
        expect(x, file).toBeGreaterThan(70); expect(x, file).toBeLessThan(180);
        expect(y, file).toBeGreaterThan(80); expect(y, file).toBeLessThan(185);
      }
      const [le, re, nose, lm, rm] = landmarks;
      expect(le[0]).toBeLessThan(re[0]);
      expect(lm[0]).toBeLessThan(rm[0]);
      expect(nose[1]).toBeGreaterThan((le[1] + re[1]) / 2);
      expect(nose[1]).toBeLessThan((lm[1] + rm[1]) / 2);
      expect(box[0]).toBeLessThan(le[0]); expect(box[2]).toBeGreaterThan(re[0]);
    }
  });

  it('detectFace should find faces in most whole CelebA photos', async () => {
    const dir = sharedPath('data', 'celeba-wild');
    const files = readdirSync(dir).filter((f) => f.endsWith('.jpg')).filter((_, i) => i % 100 === 0);
    let found = 0;
    for (const f of files) {
      const img = await decodeImage(readFileSync(path.join(dir, f)), LIMITS);
      try {
        await detectFace(img, direct.infer, DETECTOR);
        found++;
      } catch (err) {
        expect(err).toMatchObject({ code: 'INPUT_NO_FACE' });
      }
    }
    console.log(`detectFace: found a face in ${found}/${files.length} celeba-wild photos`);
    expect(found / files.length).toBeGreaterThan(0.9);
  });

  it('detectFace should prefer a central face over a slightly more confident one at the edge', async () => {
    const pr = priors();
    // A 640×640 crop enters the model at scale 0.5, filling [0, 320)². Two faces on level-1 priors
    // (stride 16): one at model (168, 168), i.e. crop (336, 336) near the centre; one at crop (80, 80).
    const central = 12800 + (10 * 40 + 10) * 2, corner = 12800 + (2 * 40 + 2) * 2;
    const fake: InferFn = async () => {
      const scores = new Float32Array(16800 * 2), landmarks = new Float32Array(16800 * 10);
      scores[central * 2 + 1] = 0.9;
      scores[corner * 2 + 1] = 0.99;
      return {
        [RETINAFACE_OUTPUTS.boxes]: { data: new Float32Array(16800 * 4), dims: [1, 16800, 4] },
        [RETINAFACE_OUTPUTS.scores]: { data: scores, dims: [1, 16800, 2] },
        [RETINAFACE_OUTPUTS.landmarks]: { data: landmarks, dims: [1, 16800, 10] },
      };
    };
    const img = { width: 640, height: 640, data: Buffer.alloc(640 * 640 * 3) };
    const picked = await detectFace(img, fake, DETECTOR);
    expect(picked.score).toBeCloseTo(0.9, 6);
    // Landmark offsets are 0: every point sits at the prior centre, scaled back by 640/320.
    expect(picked.landmarks[0][0]).toBeCloseTo(pr[central * 4] * 640 * 2, 3);
  });

  it('detectFace should report INPUT_NO_FACE for a flat grey image', async () => {
    const grey = { width: 200, height: 200, data: Buffer.alloc(200 * 200 * 3, 128) };
    await expect(detectFace(grey, direct.infer, DETECTOR)).rejects.toMatchObject({ code: 'INPUT_NO_FACE' });
  });
});

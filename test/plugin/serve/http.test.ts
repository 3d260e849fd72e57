import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQualityScorer, type QualityScorer } from '../../../src/plugin/app/quality.js';
import { createScoreServer } from '../../../src/plugin/serve/http.js';
import { sharedDir, sharedPath } from '../../helpers/shared.js';

const jpeg = readFileSync(sharedPath('data', 'lfw', 'Aaron_Eckhart', 'Aaron_Eckhart_0001.jpg'));
let scorer: QualityScorer;

beforeAll(async () => { scorer = await createQualityScorer({ config: { 'models.mirror': sharedDir(), 'inference.workers': 1 } }); });
afterAll(async () => { await scorer?.close(); });

const post = (server: ReturnType<typeof createScoreServer>, body: Buffer | string, headers: Record<string, string> = {}) =>
  server.inject({ method: 'POST', url: '/score', payload: body, headers: { 'content-type': 'image/jpeg', ...headers } });

describe('createScoreServer', () => {
  it('POST /score should answer the scorer\'s result for an image body, with the frame id given', async () => {
    const server = createScoreServer(scorer, { maxBytes: 4_000_000, maxInFlight: 8 });
    const res = await post(server, jpeg, { 'x-frame-id': 'cam-1/42' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: 'cam-1/42', score: expect.any(Number), decision: expect.stringMatching(/^(ACCEPT|REJECT|BORDERLINE)$/), inline: { modelId: 'ediffiqa-t-own' } });
    await server.close();
  });

  it('POST /score should answer bad input with 422 and the catalogue\'s code, never retriable', async () => {
    const server = createScoreServer(scorer, { maxBytes: 4_000_000, maxInFlight: 8 });
    const cases: [Buffer | string, Record<string, string>, string][] = [
      [Buffer.from('not an image'), {}, 'INPUT_IMAGE_FORMAT'],
      [jpeg, { 'x-landmarks': '1,2,3' }, 'INPUT_BAD_LANDMARKS'],
      ['hello', { 'content-type': 'text/plain' }, 'INPUT_IMAGE_FORMAT'],
    ];
    for (const [body, headers, code] of cases) {
      const res = await post(server, body, headers);
      expect(res.statusCode, code).toBe(422);
      expect(res.json()).toMatchObject({ error: { code, canRetry: false } });
    }
    await server.close();
  });

  it('POST /score should refuse a body over the gate\'s byte limit with 413 INPUT_TOO_LARGE', async () => {
    const server = createScoreServer(scorer, { maxBytes: 1000, maxInFlight: 8 });
    const res = await post(server, jpeg);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: 'INPUT_TOO_LARGE', canRetry: false } });
    await server.close();
  });

  it('POST /score should answer 503 INFER_QUEUE_FULL with Retry-After when the in-flight limit is reached', async () => {
    const server = createScoreServer(scorer, { maxBytes: 4_000_000, maxInFlight: 0 });
    const res = await post(server, jpeg);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toMatchObject({ error: { code: 'INFER_QUEUE_FULL', canRetry: true } });
    await server.close();
  });
});

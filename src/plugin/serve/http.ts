import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { GateError, toGateError, type ErrorCode } from '../core/errors.js';
import type { Landmarks5 } from '../core/frame.js';
import type { QualityScorer } from '../app/quality.js';

export interface ScoreServerOptions {
  /** Larger bodies are refused with INPUT_TOO_LARGE (413), as the gate refuses larger images (`face.maxBytes`). */
  maxBytes: number;
  /** Requests scored at once; more are answered INFER_QUEUE_FULL (503, retry) instead of queueing without bound (`inference.maxQueue`). */
  maxInFlight: number;
}

/**
 * HTTP scoring for stream processors that call out per message (Redpanda Connect's `http`
 * processor, NiFi's InvokeHTTP, a Flink async function): `POST /score` with the image bytes as
 * the body (JPEG, PNG or WebP; optional `x-landmarks: x1,y1,…,x5,y5` and `x-frame-id`) answers the
 * scorer's result as JSON. Errors carry the catalogue's code and `canRetry`, with the status a
 * client can act on: 422 bad input (never retry), 413 too large, 503 overloaded or closing (retry,
 * `Retry-After`), 500 otherwise. `GET /healthz` answers while the process runs.
 */
export function createScoreServer(scorer: QualityScorer, o: ScoreServerOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: o.maxBytes, logger: false });
  let inFlight = 0;
  app.addContentTypeParser(['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post('/score', async (req, reply) => {
    const bytes = req.body;
    if (!Buffer.isBuffer(bytes)) throw new GateError('INPUT_IMAGE_FORMAT', 'send the image bytes as the body (Content-Type image/jpeg, image/png, image/webp or application/octet-stream)');
    if (inFlight >= o.maxInFlight) throw new GateError('INFER_QUEUE_FULL', `${inFlight} images in scoring: try again shortly`);
    inFlight++;
    try {
      const id = header(req.headers['x-frame-id']) ?? req.id;
      const [result] = await scorer.score([{ bytes, id, landmarks: landmarksFrom(header(req.headers['x-landmarks'])) }]);
      if (result.error) return sendError(reply, result.error);
      return result;
    } finally {
      inFlight--;
    }
  });
  app.get('/healthz', async () => ({ ok: true }));

  app.setErrorHandler((err, _req, reply) => {
    const fastifyCode = (err as { code?: string }).code;
    const e = fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE' ? new GateError('INPUT_TOO_LARGE', `the body is over ${o.maxBytes} bytes`)
      : fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fastifyCode === 'FST_ERR_CTP_EMPTY_TYPE' ? new GateError('INPUT_IMAGE_FORMAT', (err as Error).message)
        : toGateError(err);
    return sendError(reply, e);
  });
  return app;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function landmarksFrom(v: string | undefined): Landmarks5 | undefined {
  if (v === undefined) return undefined;
  const n = v.split(',').map((x) => Number(x.trim()));
  if (n.length !== 10 || n.some((x) => !Number.isFinite(x))) throw new GateError('INPUT_BAD_LANDMARKS', 'x-landmarks takes 10 numbers: x1,y1,…,x5,y5 (eyes, nose, mouth corners)');
  return [0, 2, 4, 6, 8].map((i) => [n[i], n[i + 1]]);
}

function statusOf(code: ErrorCode, canRetry: boolean): number {
  if (code === 'INPUT_TOO_LARGE') return 413;
  if (code.startsWith('INPUT_')) return 422;
  if (canRetry || code === 'INFER_CLOSED') return 503;
  return 500;
}

function sendError(reply: FastifyReply, e: { code: ErrorCode; message: string; canRetry: boolean }): FastifyReply {
  const status = statusOf(e.code, e.canRetry);
  reply.code(status);
  if (status === 503) reply.header('retry-after', '1');
  return reply.send({ error: { code: e.code, message: e.message, canRetry: e.canRetry } });
}

import { afterEach, describe, expect, it } from 'vitest';
import { TelemetryServer } from '../../../src/plugin/telemetry/server.js';

let server: TelemetryServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

async function start(src: ConstructorParameters<typeof TelemetryServer>[0]) {
  server = new TelemetryServer(src);
  const port = await server.listen(0, '127.0.0.1');
  return async (route: string, method = 'GET') => {
    const res = await fetch(`http://127.0.0.1:${port}${route}`, { method });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };
}

describe('TelemetryServer', () => {
  it('listen should serve metrics text, liveness and readiness', async () => {
    const get = await start({ metrics: async () => 'x_total 1\n', notReady: () => [] });
    expect(await get('/metrics')).toEqual({ status: 200, body: 'x_total 1\n', type: 'text/plain; version=0.0.4; charset=utf-8' });
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz?verbose=1')).body).toBe('ready\n');
  });

  it('listen should answer 503 with the reasons while not ready, and stay alive', async () => {
    const get = await start({ metrics: async () => '', notReady: () => ['models loading', 'broker: down'] });
    expect(await get('/readyz')).toMatchObject({ status: 503, body: 'not ready: models loading; broker: down\n' });
    expect((await get('/healthz')).status).toBe(200);
  });

  it('listen should answer 500 when metrics collection fails, 404 and 405 otherwise', async () => {
    const get = await start({ metrics: async () => { throw new Error('reader shut down'); }, notReady: () => [] });
    expect(await get('/metrics')).toMatchObject({ status: 500, body: 'metrics collection failed: reader shut down\n' });
    expect((await get('/')).status).toBe(404);
    expect((await get('/metrics', 'POST')).status).toBe(405);
  });

  it('close should be idempotent', async () => {
    await start({ metrics: async () => '', notReady: () => [] });
    await Promise.all([server!.close(), server!.close()]);
  });
});

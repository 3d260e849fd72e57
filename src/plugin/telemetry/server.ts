import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthSources {
  /** Prometheus text of every metric. */
  metrics(): Promise<string>;
  /** Why the process is not ready (empty when it is). */
  notReady(): string[];
}

/**
 * /metrics (Prometheus text), /healthz (the event loop answers: alive) and /readyz (200 only
 * when the broker is connected and the models are loaded). Plain node:http: three routes need
 * no framework.
 */
export class TelemetryServer {
  readonly #server: Server;
  #closed?: Promise<void>;

  constructor(src: HealthSources) {
    this.#server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (url === '/readyz') {
        const why = src.notReady();
        res.writeHead(why.length ? 503 : 200, { 'content-type': 'text/plain' }).end(why.length ? `not ready: ${why.join('; ')}\n` : 'ready\n');
      } else if (url === '/metrics') {
        src.metrics().then(
          (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${err.message}\n`),
        );
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
    // Scrapes must never keep the process alive at shutdown.
    this.#server.unref();
  }

  /** Port 0 picks a free one; resolves with the port bound. */
  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    this.#closed ??= new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }
}

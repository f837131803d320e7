import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { MetricsRegistry } from '#infra/metrics';
import { Readiness } from './health.js';
import { routeTableOf } from './route-table.js';

export interface AdminListener {
  url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * The operational surface of an app on its own listener (ADMIN_HOST, by default 127.0.0.1,
 * and a port of its own): `GET /metrics` (Prometheus), `GET /readyz` with each dependency's
 * state and error text, `GET /healthz`, `GET /routes` (every route the public port serves). The public port serves only `/healthz` and a
 * `/readyz` without details. `actions` are POST routes of the app (the worker's `POST /drain`):
 * each answers 202 and runs in the background. Bodies are never read; anything else is a 404.
 */
export async function listenAdmin(app: NestFastifyApplication, host: string, port: number, name: string, actions: Readonly<Record<string, () => void>> = {}): Promise<AdminListener> {
  const readiness = app.get(Readiness, { strict: false });
  let metrics: MetricsRegistry | undefined;
  try {
    metrics = app.get(MetricsRegistry, { strict: false });
  } catch {
    metrics = undefined;
  }
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const action = Object.hasOwn(actions, path) ? actions[path] : undefined;
    if (action && req.method === 'POST') {
      action();
      return send(res, 202, 'application/json', JSON.stringify({ status: 'accepted', action: path.slice(1) }));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'application/json', '{"error":"method not allowed"}');
    if (path === '/healthz') return send(res, 200, 'application/json', '{"status":"ok"}');
    if (path === '/readyz') {
      const { ready, checks } = await readiness.evaluate();
      return send(res, ready ? 200 : 503, 'application/json', JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks }));
    }
    if (path === '/routes') return send(res, 200, 'application/json', JSON.stringify({ routes: routeTableOf(app).list() }));
    if (path === '/metrics' && metrics) return send(res, 200, metrics.contentType, await metrics.render());
    return send(res, 404, 'application/json', '{"error":"not found"}');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      new Logger(`${name}-admin`).error(`${req.url}: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) send(res, 500, 'application/json', '{"error":"internal"}');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actualPort}`;
  new Logger(name).log(`admin listener (metrics, readiness details) on ${url}`);
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

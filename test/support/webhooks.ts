// Webhook fixtures: rows written straight to the database, and a receiver HTTP server.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { uuidv7, type PrismaClient } from '#infra/db';

/** An enabled endpoint of `orgId` (a URL nothing resolves here). */
export async function addWebhookEndpoint(prisma: PrismaClient, orgId: string): Promise<string> {
  const id = uuidv7();
  await prisma.webhookEndpoint.create({ data: { id, orgId, url: 'https://hooks.example.test/in', eventTypes: [] } });
  return id;
}

/** A failed message of `orgId` to an ad hoc URL (a prediction's own webhook). */
export async function addWebhookMessage(prisma: PrismaClient, orgId: string): Promise<string> {
  const id = uuidv7();
  await prisma.webhookMessage.create({ data: { id, orgId, url: 'https://hooks.example.test/in', eventType: 'prediction.succeeded', dedupeKey: `fixture:${id}`, payload: { type: 'prediction.succeeded' }, status: 'failed' } });
  return id;
}

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A receiver: answers each path from a script (then 200), records every request. */
export class Receiver {
  private server!: Server;
  port = 0;
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, Answer[]>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        const a = this.scripts.get(path)?.shift() ?? { status: 200 };
        res.writeHead(a.status, a.headers ?? {}).end(a.body ?? 'ok');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }
  script(path: string, answers: Answer[]): void {
    this.scripts.set(path, answers);
  }
  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }
  /** Resolves once `n` requests reached `path` (polling the record; rejects after `timeoutMs`). */
  async waitFor(path: string, n: number, timeoutMs = 15_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.on(path).length < n) {
      if (Date.now() > deadline) throw new Error(`${this.on(path).length} of ${n} webhook(s) reached ${path} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.on(path);
  }
  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drainRefusedBodies, keepConnectionAfterRefusal } from './refused-body.js';

describe('keepConnectionAfterRefusal', () => {
  const base = { status: 413, contentLength: '2000', bodyRead: false };
  it('keeps a 413 decided from a declared length within the cap, nothing read', () => {
    expect(keepConnectionAfterRefusal(base, 2000)).toBe(true);
  });
  it('closes past the cap, when chunked, when the body was read, for another status, or a strange length', () => {
    expect(keepConnectionAfterRefusal(base, 1999)).toBe(false);
    expect(keepConnectionAfterRefusal({ ...base, contentLength: undefined }, 2000)).toBe(false);
    expect(keepConnectionAfterRefusal({ ...base, bodyRead: true }, 2000)).toBe(false);
    expect(keepConnectionAfterRefusal({ ...base, status: 400 }, 2000)).toBe(false);
    for (const contentLength of ['', '-1', '1e3', ' 20', '12345678901234567']) expect(keepConnectionAfterRefusal({ ...base, contentLength }, 2000)).toBe(false);
  });
});

/** One POST through `agent`: the status and the connection header, or the socket error a client sees. */
function post(url: string, body: Buffer, agent: Agent): Promise<{ status?: number; connection?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection ?? 'keep-alive' }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    // Written at once, before any answer is read: what fetch and most SDKs do.
    req.end(body);
  });
}

describe('drainRefusedBodies on a real socket', () => {
  const LIMIT = 64 * 1024;
  const CAP = 8 * 1024 * 1024;
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    app = Fastify({ bodyLimit: LIMIT });
    drainRefusedBodies(app, CAP);
    app.post('/x', () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/x`;
  });
  afterAll(() => app.close());

  it('a body over the limit (declared, within the cap) gets its 413 while still sending it, on a connection kept open', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await post(url, body, agent));
      answers.push(await post(url, Buffer.from('{"a":1}'), agent));
      expect(answers).toEqual([
        ...Array.from({ length: 4 }, () => ({ status: 413, connection: 'keep-alive' })),
        { status: 200, connection: 'keep-alive' },
      ]);
    } finally {
      agent.destroy();
    }
  });

  it('a body past the cap still closes the connection after the 413', async () => {
    // Sent as headers first and the answer read before the body, so the close cannot race it.
    const res = await new Promise<{ status?: number; connection?: string }>((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': CAP + 1 } }, (r) => {
        r.resume();
        r.on('end', () => {
          resolve({ status: r.statusCode, connection: r.headers.connection });
          req.destroy();
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') reject(e);
      });
      req.flushHeaders();
    });
    expect(res).toEqual({ status: 413, connection: 'close' });
  });
});

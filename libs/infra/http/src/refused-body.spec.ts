import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectionAfterRefusal, drainRefusedBodies } from './refused-body.js';

describe('connectionAfterRefusal', () => {
  const base = { contentLength: '2000', chunked: false, bodyRead: false };
  it('keeps the connection for an unread body declared within the cap', () => {
    expect(connectionAfterRefusal(base, 2000)).toBe('keep');
  });
  it('closes it past the cap, for a chunked body, or a length that is not a plain number', () => {
    expect(connectionAfterRefusal(base, 1999)).toBe('close');
    expect(connectionAfterRefusal({ ...base, contentLength: undefined, chunked: true }, 2000)).toBe('close');
    for (const contentLength of ['', '-1', '1e3', ' 20', '12345678901234567']) expect(connectionAfterRefusal({ ...base, contentLength }, 2000)).toBe('close');
  });
  it('leaves it alone without a body, or when the body was already read', () => {
    expect(connectionAfterRefusal({ ...base, contentLength: undefined }, 2000)).toBe('as-is');
    expect(connectionAfterRefusal({ ...base, contentLength: '0' }, 2000)).toBe('as-is');
    expect(connectionAfterRefusal({ ...base, bodyRead: true }, 10)).toBe('as-is');
    expect(connectionAfterRefusal({ ...base, chunked: true, bodyRead: true }, 10)).toBe('as-is');
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

/** Sends only the headers (declaring `length` bytes), reads the answer, then drops the request. */
function headersOnly(url: string, length: number): Promise<{ status?: number; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent: new Agent({ keepAlive: true }), headers: { 'content-type': 'application/json', 'content-length': length } }, (r) => {
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
}

describe('drainRefusedBodies on a real socket', () => {
  const LIMIT = 64 * 1024;
  const CAP = 8 * 1024 * 1024;
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    app = Fastify({ bodyLimit: LIMIT });
    drainRefusedBodies(app, CAP);
    app.post('/x', () => ({ ok: true }));
    // A route that refuses before the body is read, as the gateway's edge authentication does.
    app.post('/locked', { onRequest: (_req, _reply, done) => done(Object.assign(new Error('no key'), { statusCode: 401 })) }, () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());

  it('a body over the limit (declared, within the cap) gets its 413 while still sending it, on a connection kept open', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await post(`${base}/x`, body, agent));
      answers.push(await post(`${base}/x`, Buffer.from('{"a":1}'), agent));
      expect(answers).toEqual([...Array.from({ length: 4 }, () => ({ status: 413, connection: 'keep-alive' })), { status: 200, connection: 'keep-alive' }]);
    } finally {
      agent.destroy();
    }
  });

  it('a body past the cap closes the connection after the 413', async () => {
    expect(await headersOnly(`${base}/x`, CAP + 1)).toEqual({ status: 413, connection: 'close' });
  });

  it('a refusal before the body is read (401) keeps a small body’s connection and closes a large one’s', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await post(`${base}/locked`, Buffer.alloc(1024 * 1024, 0x61), agent)).toEqual({ status: 401, connection: 'keep-alive' });
    } finally {
      agent.destroy();
    }
    expect(await headersOnly(`${base}/locked`, CAP + 1)).toEqual({ status: 401, connection: 'close' });
  });
});

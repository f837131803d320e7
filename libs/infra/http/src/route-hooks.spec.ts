import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { appendRouteHook } from './route-hooks.js';

const TAG = Symbol('test.hook');

describe('appendRouteHook', () => {
  it('runs the hook on its own route only, after hooks the route already had, and adds it once', async () => {
    const app = Fastify();
    const calls: string[] = [];
    app.addHook('onRoute', (route) => {
      if (route.url !== '/hooked') return;
      // Twice on purpose: the tag keeps it to one.
      for (let i = 0; i < 2; i++)
        appendRouteHook(route, 'onRequest', TAG, (request: { method: string }, _reply: unknown, done: () => void) => {
          calls.push(`appended ${request.method}`);
          done();
        });
    });
    app.get('/hooked', { onRequest: (_req, _reply, done) => (calls.push('own'), done()) }, () => ({ ok: true }));
    app.get('/plain', () => ({ ok: true }));
    expect((await app.inject({ url: '/hooked' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/plain' })).statusCode).toBe(200);
    // The automatic HEAD route gets its own copy, once.
    expect((await app.inject({ method: 'HEAD', url: '/hooked' })).statusCode).toBe(200);
    expect(calls).toEqual(['own', 'appended GET', 'own', 'appended HEAD']);
    await app.close();
  });
});

// Issue 10 item 8: HTTP conventions of the gateway, against a started gateway.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { readProcessEnv } from '#infra/config';
import { uuidv7 } from '#infra/db';
import { PROBLEM_CODES } from '#infra/errors';
import { poolMarker, reportWarm, TENANT_POOL } from '#model-service/model-registry';
import { addKey, signup, startManagementEnv, type Env, type Reply } from '../support/management.js';

let env: Env;
let orgId: string;
let admin: { key: string };
let predict: { key: string };
let redis: Redis;

beforeAll(async () => {
  env = await startManagementEnv('httpconv');
  ({ orgId } = await signup(env, 'conventions@example.test', 'Conventions'));
  admin = { key: (await addKey(env.db.prisma, orgId, ['admin'], 'live')).secret };
  predict = { key: (await addKey(env.db.prisma, orgId, ['predict'], 'live')).secret };
  redis = new Redis(readProcessEnv().REDIS_URL);
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await env?.stop();
});

function expectProblem(r: Reply, status: number, code: string): void {
  expect({ status: r.status, code: r.json?.code, type: r.headers.get('content-type') }).toEqual({ status, code, type: 'application/problem+json; charset=utf-8' });
}

const paths = (r: Reply): string[] => (r.json.errors as { path: string }[]).map((e) => e.path).sort();

describe('405 for a known path with another method', () => {
  it('answers method_not_allowed with Allow, with or without a key', async () => {
    for (const caller of [null, predict]) {
      const r = await env.call('DELETE', '/v1/predictions', caller);
      expectProblem(r, 405, 'method_not_allowed');
      expect(r.headers.get('allow')).toBe('GET, HEAD, POST');
    }
    const one = await env.call('PUT', '/v1/predictions/0193d7a2-0000-7000-8000-00000000000a', predict);
    expectProblem(one, 405, 'method_not_allowed');
    expect(one.headers.get('allow')).toBe('GET, HEAD');
    // A path no route has stays a 404.
    expectProblem(await env.call('GET', '/v1/nothing-here', predict), 404, 'route_not_found');
  });
});

describe('over-long path and query parameters', () => {
  it('answer problem+json', async () => {
    expectProblem(await env.call('GET', `/v1/predictions/${'a'.repeat(5000)}`, predict), 404, 'not_found');
    const q = await env.call('GET', `/v1/predictions?limit=${'9'.repeat(5000)}`, predict);
    expectProblem(q, 422, 'validation_failed');
    expect(paths(q)).toEqual(['/limit']);
  });
});

describe('problem types', () => {
  it('point to a page the gateway serves for each code of the catalogue', async () => {
    const r = await env.call('GET', '/v1/predictions', null);
    expect(r.json.type).toBe('/problems/unauthenticated');
    for (const code of Object.keys(PROBLEM_CODES)) {
      const page = await fetch(new URL(`/problems/${code}`, env.gateway.url));
      expect({ code, status: page.status, type: page.headers.get('content-type') }).toEqual({ code, status: 200, type: 'text/html; charset=utf-8' });
      expect(await page.text()).toContain(PROBLEM_CODES[code as keyof typeof PROBLEM_CODES].title.replace(/'/g, '&#39;'));
    }
    expect((await fetch(`${env.gateway.url}/problems`)).status).toBe(200);
    expectProblem(await env.call('GET', '/problems/no_such_code', null), 404, 'not_found');
  });
});

describe('one rule for bad query parameters', () => {
  it('is 422 validation_failed naming every bad parameter, on every list', async () => {
    const audit = await env.call('GET', `/v1/orgs/${orgId}/audit-log?since=yesterday&limit=0`, admin);
    expectProblem(audit, 422, 'validation_failed');
    expect(paths(audit)).toEqual(['/limit', '/since']);
    const preds = await env.call('GET', '/v1/predictions?limit=abc&starting_after=nope', predict);
    expectProblem(preds, 422, 'validation_failed');
    expect(paths(preds)).toEqual(['/limit', '/starting_after']);
    const keys = await env.call('GET', `/v1/orgs/${orgId}/api-keys?mode=nope&limit=101`, admin);
    expectProblem(keys, 422, 'validation_failed');
    expect(paths(keys)).toEqual(['/limit', '/mode']);
    const members = await env.call('GET', `/v1/orgs/${orgId}/members?limit=1&limit=2`, admin);
    expectProblem(members, 422, 'validation_failed');
    expect(members.json.errors).toEqual([{ path: '/limit', message: 'must be given once' }]);
  });
});

describe('validation messages', () => {
  it('speak in one voice, report unknown fields at their own path and feature inputs under /input', async () => {
    const missing = await env.call('POST', `/v1/orgs/${orgId}/api-keys`, admin, { scopes: 'predict', bogus: 1 });
    expectProblem(missing, 422, 'validation_failed');
    expect(missing.json.errors).toEqual(
      expect.arrayContaining([
        { path: '/name', message: 'is required' },
        { path: '/scopes', message: 'must be an array' },
        { path: '/bogus', message: 'is not a known field' },
      ]),
    );
    expect(JSON.stringify(missing.json)).not.toMatch(/Invalid input|expected \w+, received/);
    const input = await env.call('POST', '/v1/predictions', predict, { feature: 'ocr-line', input: { image: 42, extra: true } });
    expectProblem(input, 422, 'validation_failed');
    expect(input.json.errors).toEqual(
      expect.arrayContaining([
        { path: '/input/image', message: 'must be a string' },
        { path: '/input/extra', message: 'is not a known field' },
      ]),
    );
  });
});

describe('lists', () => {
  it('all carry data, has_more and next_cursor', async () => {
    for (const [path, caller] of [
      ['/v1/models', predict],
      ['/v1/features', predict],
      ['/v1/predictions', predict],
      [`/v1/orgs/${orgId}/models`, admin],
      [`/v1/orgs/${orgId}/api-keys`, admin],
      [`/v1/orgs/${orgId}/members`, admin],
      [`/v1/orgs/${orgId}/invitations`, admin],
      [`/v1/orgs/${orgId}/audit-log`, admin],
      ['/v1/orgs', admin],
    ] as const) {
      const r = await env.call('GET', path, caller);
      expect({ path, status: r.status, keys: Object.keys(r.json).filter((k) => ['data', 'has_more', 'next_cursor'].includes(k)).sort() }).toEqual({ path, status: 200, keys: ['data', 'has_more', 'next_cursor'] });
    }
  });
});

describe('the upload route', () => {
  it('answers 415 naming application/octet-stream for any other content type', async () => {
    for (const type of ['application/json', 'text/plain']) {
      const r = await fetch(`${env.gateway.url}/v1/orgs/${orgId}/models/m1/versions/1`, { method: 'POST', headers: { authorization: `Bearer ${admin.key}`, 'content-type': type }, body: '{"x":1}' });
      const body = (await r.json()) as { code: string; detail: string };
      expect({ type, status: r.status, code: body.code }).toEqual({ type, status: 415, code: 'unsupported_media_type' });
      expect(body.detail).toContain('application/octet-stream');
    }
  });
});

describe('model readiness', () => {
  it('is the same in /v1/models and /v2/models/{m}/ready', async () => {
    const modelId = uuidv7();
    await env.db.prisma.model.create({ data: { id: modelId, orgId, namespace: orgId, name: 'own-model', pool: TENANT_POOL, defaultVersion: '1' } });
    await env.db.prisma.modelVersion.create({
      data: { id: uuidv7(), modelId, version: '1', sha256: 'a'.repeat(64), sizeBytes: 10, artifactUri: 'storage:x', inputs: [], outputs: [], config: {} },
    });
    const both = async () => {
      const list = await env.call('GET', '/v1/models', predict);
      const listed = (list.json.data as { name: string; ready: boolean }[]).find((m) => m.name === 'own-model')!.ready;
      const v2 = await env.call('GET', '/v2/models/own-model/ready', predict);
      return { listed, v2: v2.status === 200 };
    };
    // No worker serves uploaded models: not ready in either.
    expect(await both()).toEqual({ listed: false, v2: false });
    // A live worker of the tenant pool loads uploads on demand: ready in both.
    await reportWarm(redis, env.prefix, 'worker-conventions', [poolMarker(TENANT_POOL)], 60_000);
    expect(await both()).toEqual({ listed: true, v2: true });
  });
});

describe('KServe health routes', () => {
  it('answer probes without a key, the readiness without details', async () => {
    const live = await env.call('GET', '/v2/health/live', null);
    expect({ status: live.status, body: live.json }).toEqual({ status: 200, body: { live: true } });
    const ready = await env.call('GET', '/v2/health/ready', null);
    expect([200, 503]).toContain(ready.status);
    expect(ready.json).toEqual({ ready: ready.status === 200 });
  });
});

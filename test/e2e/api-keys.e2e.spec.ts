// The API-key management and audit-log routes over HTTP: the secret shown once, validation,
// revoke and roll taking effect on the prediction routes, test-mode labels, the audit trail.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { addKey, signup, startManagementEnv, type Caller, type Env } from '../support/management.js';

let env: Env;
let orgId: string;
let slug: string;
let owner: Caller;
let ownerId: string;

const keysPath = () => `/v1/orgs/${slug}/api-keys`;

async function create(body: unknown, caller: Caller = owner) {
  const r = await env.call('POST', keysPath(), caller, body);
  expect({ status: r.status, body: r.status === 201 ? 'ok' : r.json }).toEqual({ status: 201, body: 'ok' });
  return r;
}

/** What a key gets on the prediction routes right now. */
async function predictStatus(secret: string): Promise<number> {
  return (await env.call('GET', '/v1/predictions', { key: secret })).status;
}

beforeAll(async () => {
  env = await startManagementEnv('api_keys_http');
  const s = await signup(env, 'owner@keys.test', 'Keys Inc');
  ({ orgId, slug } = s);
  owner = s.session;
  ownerId = s.userId;
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

describe('API keys over HTTP', () => {
  it('shows the secret once, uncached, and never again', async () => {
    const r = await create({ name: 'backend', scopes: ['predict', 'usage:read'], rate_limit_per_minute: 100 });
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.json).toEqual({
      id: expect.any(String),
      object: 'api_key',
      name: 'backend',
      mode: 'live',
      livemode: true,
      display_prefix: r.json.secret.slice(0, 12),
      scopes: ['predict', 'usage:read'],
      rate_limit_per_minute: 100,
      expires_at: null,
      last_used_at: null,
      revoked_at: null,
      rolled_to: null,
      created_by: { type: 'user', id: ownerId },
      created_at: expect.any(String),
      status: 'active',
      secret: expect.stringMatching(/^sk_live_[0-9A-Za-z]{32}$/),
    });
    expect(await predictStatus(r.json.secret)).toBe(200);
    const got = await env.call('GET', `${keysPath()}/${r.json.id}`, owner);
    expect(got.status).toBe(200);
    expect(got.json).not.toHaveProperty('secret');
    expect(got.text).not.toContain(r.json.secret.slice(12));
    const list = await env.call('GET', keysPath(), owner);
    expect(list.text).not.toContain(r.json.secret.slice(12));
  });

  it('labels test-mode keys as test everywhere they appear', async () => {
    const r = await create({ name: 'sandbox', mode: 'test' });
    expect(r.json).toMatchObject({ mode: 'test', livemode: false, display_prefix: expect.stringMatching(/^sk_test_/), secret: expect.stringMatching(/^sk_test_/) });
    const tests = await env.call('GET', `${keysPath()}?mode=test`, owner);
    expect(tests.json.data.length).toBeGreaterThan(0);
    expect(tests.json.data.every((k: { mode: string; livemode: boolean }) => k.mode === 'test' && !k.livemode)).toBe(true);
    const audit = await env.call('GET', `/v1/orgs/${orgId}/audit-log?target_id=${r.json.id}`, owner);
    expect(audit.json.data[0].changes.after).toMatchObject({ mode: 'test', display_prefix: r.json.display_prefix });
  });

  it('answers bad bodies and bad pages with 422 naming each field, bad ids with 404', async () => {
    const bad = await env.call('POST', keysPath(), owner, { name: 'x', scopes: ['predict', 'superuser'], expires_at: '2001-01-01T00:00:00Z', colour: 'blue' });
    expect({ status: bad.status, code: bad.json.code }).toEqual({ status: 422, code: 'validation_failed' });
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(bad.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/colour', '/expires_at', '/scopes/1']);
    const noName = await env.call('POST', keysPath(), owner, {});
    expect(noName.json.errors).toEqual([{ path: '/name', message: expect.any(String) }]);
    const badRoll = await env.call('POST', `${keysPath()}/00000000-0000-7000-8000-000000000000/roll`, owner, { grace_period_seconds: 604_801 });
    expect(badRoll.status).toBe(422);
    for (const id of ['not-an-id', '1', '00000000-0000-7000-8000-000000000000', "x' OR 1=1"]) {
      const r = await env.call('GET', `${keysPath()}/${encodeURIComponent(id)}`, owner);
      expect({ id, status: r.status, code: r.json.code }).toEqual({ id, status: 404, code: 'api_key_not_found' });
    }
    expect((await env.call('GET', `${keysPath()}?limit=0`, owner)).status).toBe(422);
    expect((await env.call('GET', `${keysPath()}?starting_after=zzz`, owner)).status).toBe(422);
    expect((await env.call('GET', `${keysPath()}?mode=prod`, owner)).status).toBe(422);
  });

  it('pages the list with a cursor, newest first', async () => {
    for (let i = 0; i < 3; i++) await create({ name: `page-${i}` });
    const all = (await env.call('GET', `${keysPath()}?limit=100`, owner)).json.data.map((k: { id: string }) => k.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&starting_after=${cursor}` : '';
      const page: any = (await env.call('GET', `${keysPath()}?limit=2${q}`, owner)).json;
      expect(page.object).toBe('list');
      seen.push(...page.data.map((k: { id: string }) => k.id));
      cursor = page.has_more ? page.next_cursor : null;
    } while (cursor);
    expect(seen).toEqual(all);
    expect(all).toEqual([...all].sort().reverse());
  });

  it('revokes at once and idempotently; revoked keys leave the list unless asked for', async () => {
    const k = await create({ name: 'to revoke' });
    expect(await predictStatus(k.json.secret)).toBe(200);
    const r1 = await env.call('POST', `${keysPath()}/${k.json.id}/revoke`, owner);
    expect(r1.status).toBe(200);
    expect(r1.json).toMatchObject({ status: 'revoked', revoked_at: expect.any(String) });
    expect(await predictStatus(k.json.secret)).toBe(401);
    const r2 = await env.call('POST', `${keysPath()}/${k.json.id}/revoke`, owner);
    expect(r2.json).toEqual(r1.json);
    const listed = (await env.call('GET', `${keysPath()}?limit=100`, owner)).json.data.map((x: { id: string }) => x.id);
    expect(listed).not.toContain(k.json.id);
    const withRevoked = (await env.call('GET', `${keysPath()}?limit=100&include_revoked=true`, owner)).json.data.map((x: { id: string }) => x.id);
    expect(withRevoked).toContain(k.json.id);
    const patch = await env.call('PATCH', `${keysPath()}/${k.json.id}`, owner, { name: 'again' });
    expect({ status: patch.status, code: patch.json.code }).toEqual({ status: 409, code: 'conflict' });
  });

  it('rolls: the new secret works at once, the old one through the grace period only', async () => {
    const k = await create({ name: 'rolling', scopes: ['predict'], rate_limit_per_minute: 50 });
    const rolled = await env.call('POST', `${keysPath()}/${k.json.id}/roll`, owner, { grace_period_seconds: 3600 });
    expect(rolled.status).toBe(201);
    expect(rolled.headers.get('cache-control')).toBe('no-store');
    expect(rolled.json).toMatchObject({ name: 'rolling', scopes: ['predict'], rate_limit_per_minute: 50, mode: 'live', status: 'active' });
    expect(rolled.json.secret).not.toBe(k.json.secret);
    expect(await predictStatus(rolled.json.secret)).toBe(200);
    expect(await predictStatus(k.json.secret)).toBe(200);
    const old = (await env.call('GET', `${keysPath()}/${k.json.id}`, owner)).json;
    expect(old).toMatchObject({ status: 'rolled', rolled_to: rolled.json.id });

    const now = await create({ name: 'roll now' });
    const instant = await env.call('POST', `${keysPath()}/${now.json.id}/roll`, owner, { grace_period_seconds: 0 });
    expect(instant.status).toBe(201);
    expect(await predictStatus(now.json.secret)).toBe(401);
    expect(await predictStatus(instant.json.secret)).toBe(200);
    expect((await env.call('GET', `${keysPath()}/${now.json.id}`, owner)).json.status).toBe('expired');
    const defaultGrace = await env.call('POST', `${keysPath()}/${rolled.json.id}/roll`, owner);
    expect(defaultGrace.status).toBe(201);
    const graceEnd = Date.parse((await env.call('GET', `${keysPath()}/${rolled.json.id}`, owner)).json.expires_at);
    expect(Math.abs(graceEnd - (Date.now() + 86_400_000))).toBeLessThan(60_000);
  });

  it('narrowing scopes takes effect on the next request', async () => {
    const k = await create({ name: 'narrow', scopes: ['predict', 'usage:read'] });
    expect(await predictStatus(k.json.secret)).toBe(200);
    const r = await env.call('PATCH', `${keysPath()}/${k.json.id}`, owner, { scopes: ['usage:read'] });
    expect(r.json.scopes).toEqual(['usage:read']);
    expect(await predictStatus(k.json.secret)).toBe(403);
  });

  it('records created_by for keys made by keys', async () => {
    const admin = await addKey(env.db.prisma, orgId, ['admin']);
    const r = await create({ name: 'by key' }, { key: admin.secret });
    expect(r.json.created_by).toEqual({ type: 'api_key', id: admin.id });
  });
});

describe('the audit log over HTTP', () => {
  it('records every key action with who, how, what, where from and the change, never a secret', async () => {
    const k = await create({ name: 'audited' });
    await env.call('PATCH', `${keysPath()}/${k.json.id}`, owner, { name: 'audited 2' });
    await env.call('POST', `${keysPath()}/${k.json.id}/revoke`, owner);
    const r = await env.call('GET', `/v1/orgs/${orgId}/audit-log?target_id=${k.json.id}`, owner);
    expect(r.status).toBe(200);
    expect(r.json.data.map((e: { action: string }) => e.action)).toEqual(['api_key.revoke', 'api_key.update', 'api_key.create']);
    expect(r.json.data[1]).toEqual({
      id: expect.any(String),
      object: 'audit_entry',
      action: 'api_key.update',
      actor: { type: 'user', id: ownerId },
      target: { type: 'api_key', id: k.json.id },
      ip: '127.0.0.1',
      changes: { before: { name: 'audited' }, after: { name: 'audited 2' } },
      created_at: expect.any(String),
    });
    const all = await env.call('GET', `/v1/orgs/${orgId}/audit-log?limit=100`, owner);
    expect(all.text).not.toContain(k.json.secret.slice(8));
  });

  it('filters by action, actor and time, and refuses bad filters with 422', async () => {
    const creates = await env.call('GET', `/v1/orgs/${orgId}/audit-log?action=api_key.create&limit=100`, owner);
    expect(creates.json.data.length).toBeGreaterThan(3);
    expect(creates.json.data.every((e: { action: string }) => e.action === 'api_key.create')).toBe(true);
    const byOwner = await env.call('GET', `/v1/orgs/${orgId}/audit-log?actor_id=${ownerId}&limit=100`, owner);
    expect(byOwner.json.data.every((e: { actor: { id: string } }) => e.actor.id === ownerId)).toBe(true);
    const future = await env.call('GET', `/v1/orgs/${orgId}/audit-log?since=${new Date(Date.now() + 3_600_000).toISOString()}`, owner);
    expect(future.json.data).toEqual([]);
    const bad = await env.call('GET', `/v1/orgs/${orgId}/audit-log?since=last-week&until=2026-99-01`, owner);
    expect({ status: bad.status, code: bad.json.code }).toEqual({ status: 422, code: 'validation_failed' });
    expect(bad.json.errors.map((e: { path: string }) => e.path)).toEqual(['/since', '/until']);
  });

  it('has no route that writes or deletes an entry', async () => {
    const entry = (await env.call('GET', `/v1/orgs/${orgId}/audit-log?limit=1`, owner)).json.data[0];
    // The list's path takes GET only (405 with Allow); an entry has no path at all (404).
    for (const [method, path, status] of [
      ['POST', `/v1/orgs/${orgId}/audit-log`, 405],
      ['DELETE', `/v1/orgs/${orgId}/audit-log`, 405],
      ['PATCH', `/v1/orgs/${orgId}/audit-log/${entry.id}`, 404],
      ['DELETE', `/v1/orgs/${orgId}/audit-log/${entry.id}`, 404],
      ['PUT', `/v1/orgs/${orgId}/audit-log/${entry.id}`, 404],
    ] as const) {
      const r = await env.call(method, path, owner, method === 'DELETE' ? undefined : { action: 'x' });
      expect({ method, path, status: r.status, allow: r.headers.get('allow') }).toEqual({ method, path, status, allow: status === 405 ? 'GET, HEAD' : null });
    }
    expect(await env.db.prisma.auditLog.count({ where: { id: entry.id } })).toBe(1);
  });
});

describe('the OpenAPI document', () => {
  it('documents every management route with its security, bodies, answers and problems', async () => {
    const doc = (await env.call('GET', '/openapi.json', null)).json;
    const expected = [
      'post /v1/auth/signup',
      'post /v1/auth/login',
      'post /v1/auth/logout',
      'get /v1/me',
      'post /v1/invitations/accept',
      'get /v1/orgs',
      'post /v1/orgs',
      'get /v1/orgs/{org}',
      'patch /v1/orgs/{org}',
      'get /v1/orgs/{org}/members',
      'get /v1/orgs/{org}/members/{memberId}',
      'patch /v1/orgs/{org}/members/{memberId}',
      'delete /v1/orgs/{org}/members/{memberId}',
      'get /v1/orgs/{org}/invitations',
      'post /v1/orgs/{org}/invitations',
      'delete /v1/orgs/{org}/invitations/{id}',
      'post /v1/orgs/{org}/api-keys',
      'get /v1/orgs/{org}/api-keys',
      'get /v1/orgs/{org}/api-keys/{id}',
      'patch /v1/orgs/{org}/api-keys/{id}',
      'post /v1/orgs/{org}/api-keys/{id}/revoke',
      'post /v1/orgs/{org}/api-keys/{id}/roll',
      'get /v1/orgs/{org}/audit-log',
    ];
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['bearer', 'csrf', 'stratum_session']);
    expect(doc.components.securitySchemes.csrf).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-CSRF-Token' });
    for (const id of expected) {
      const [method, path] = id.split(' ') as [string, string];
      const op = doc.paths[path]?.[method];
      expect({ id, documented: op !== undefined }).toEqual({ id, documented: true });
      if (path.startsWith('/v1/orgs/{org}')) {
        expect({ id, security: op.security }).toEqual({ id, security: [{ bearer: [] }, method === 'get' ? { stratum_session: [] } : { stratum_session: [], csrf: [] }] });
        for (const status of ['401', '403', '404']) {
          expect({ id, status, problem: op.responses[status]?.content?.['application/problem+json']?.schema?.allOf?.[0] }).toEqual({ id, status, problem: { $ref: '#/components/schemas/Problem' } });
        }
        expect(op.parameters.some((p: { name: string; in: string }) => p.name === 'org' && p.in === 'path')).toBe(true);
      }
      if (['post', 'patch'].includes(method) && !id.endsWith('/revoke') && !id.endsWith('/logout')) {
        expect({ id, body: op.requestBody !== undefined }).toEqual({ id, body: true });
        expect(op.responses['422']).toBeDefined();
      }
      const ok = Object.keys(op.responses).filter((s) => s.startsWith('2'));
      expect({ id, ok: ok.length }).toEqual({ id, ok: 1 });
    }
    expect(doc.paths['/v1/orgs/{org}/api-keys'].post.responses['201'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ApiKeyWithSecret' });
    expect(Object.keys(doc.paths['/v1/orgs/{org}/audit-log'])).toEqual(['get']);
    // Every $ref resolves.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    for (const name of new Set(refs)) expect({ name, defined: name in doc.components.schemas }).toEqual({ name, defined: true });
  });
});

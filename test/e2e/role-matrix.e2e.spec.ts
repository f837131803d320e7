// Every management route against every role and every key scope. The expectation table is
// written by hand from the permission matrix (not computed from ROLE_PERMISSIONS),
// so a change to the matrix in code that the spec does not say fails here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { buildTinyClassifier, TINY_CLASSIFIER_SPEC } from '#tools/model-builders';
import { API_KEY_SCOPES, type ApiKeyScope } from '#platform/api-keys';
import { registerUploadedVersion, uploadedVersionConfig } from '#model-service/model-registry';
import type { ModelSignature } from '#model-service/tensors';
import { addBareMember, addInvitation, addKey, addMember, login, signup, startManagementEnv, type Caller, type Env } from '../support/management.js';
import { addWebhookEndpoint, addWebhookMessage } from '../support/webhooks.js';

type Role = 'owner' | 'admin' | 'developer' | 'billing' | 'viewer';
type Scope = ApiKeyScope;

interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** `:member`, `:invitation` and `:key` are replaced by a fresh object for each call. */
  path: string;
  body?: () => unknown;
  /** The status an allowed caller gets. */
  ok: number;
  roles: Role[];
  scopes: Scope[];
}

const ALL: Role[] = ['owner', 'admin', 'developer', 'billing', 'viewer'];
const OWNER_ADMIN: Role[] = ['owner', 'admin'];
const KEY_MANAGERS: Role[] = ['owner', 'admin', 'developer'];
const BILLING: Role[] = ['owner', 'admin', 'billing'];

// Scopes: `predict` grants no management route; `usage:read` reads the organization;
// `keys:write` reads the organization and manages keys; `admin` does what an admin does.
const ROUTES: Route[] = [
  { method: 'GET', path: '/v1/orgs/:org', ok: 200, roles: ALL, scopes: ['usage:read', 'keys:write', 'admin'] },
  { method: 'PATCH', path: '/v1/orgs/:org', body: () => ({ name: `Renamed ${randomBytes(2).toString('hex')}` }), ok: 200, roles: OWNER_ADMIN, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/members', ok: 200, roles: ALL, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/members/:member', ok: 200, roles: ALL, scopes: ['admin'] },
  { method: 'PATCH', path: '/v1/orgs/:org/members/:member', body: () => ({ role: 'developer' }), ok: 200, roles: OWNER_ADMIN, scopes: ['admin'] },
  { method: 'DELETE', path: '/v1/orgs/:org/members/:member', ok: 204, roles: OWNER_ADMIN, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/invitations', ok: 200, roles: ALL, scopes: ['admin'] },
  { method: 'POST', path: '/v1/orgs/:org/invitations', body: () => ({ email: `new-${randomBytes(4).toString('hex')}@example.test`, role: 'viewer' }), ok: 201, roles: OWNER_ADMIN, scopes: ['admin'] },
  { method: 'DELETE', path: '/v1/orgs/:org/invitations/:invitation', ok: 204, roles: OWNER_ADMIN, scopes: ['admin'] },
  { method: 'POST', path: '/v1/orgs/:org/api-keys', body: () => ({ name: 'matrix', mode: 'test', scopes: ['keys:write'] }), ok: 201, roles: KEY_MANAGERS, scopes: ['keys:write', 'admin'] },
  { method: 'GET', path: '/v1/orgs/:org/api-keys', ok: 200, roles: KEY_MANAGERS, scopes: ['keys:write', 'admin'] },
  { method: 'GET', path: '/v1/orgs/:org/api-keys/:key', ok: 200, roles: KEY_MANAGERS, scopes: ['keys:write', 'admin'] },
  { method: 'PATCH', path: '/v1/orgs/:org/api-keys/:key', body: () => ({ name: 'renamed' }), ok: 200, roles: KEY_MANAGERS, scopes: ['keys:write', 'admin'] },
  { method: 'POST', path: '/v1/orgs/:org/api-keys/:key/revoke', ok: 200, roles: KEY_MANAGERS, scopes: ['keys:write', 'admin'] },
  { method: 'POST', path: '/v1/orgs/:org/api-keys/:key/roll', body: () => ({ grace_period_seconds: 60 }), ok: 201, roles: KEY_MANAGERS, scopes: ['keys:write', 'admin'] },
  { method: 'GET', path: '/v1/orgs/:org/audit-log', ok: 200, roles: OWNER_ADMIN, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/stats', ok: 200, roles: ALL, scopes: ['usage:read', 'admin'] },
  { method: 'GET', path: '/v1/orgs/:org/models', ok: 200, roles: ALL, scopes: ['usage:read', 'keys:write', 'admin'] },
  { method: 'POST', path: '/v1/orgs/:org/models/:name/versions/:version', body: () => buildTinyClassifier(TINY_CLASSIFIER_SPEC), ok: 201, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'DELETE', path: '/v1/orgs/:org/models/:name/versions/:version', ok: 204, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'POST', path: '/v1/orgs/:org/webhook-endpoints', body: () => ({ url: 'https://hooks.example.test/in' }), ok: 201, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/webhook-endpoints', ok: 200, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/webhook-endpoints/:endpoint', ok: 200, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'PATCH', path: '/v1/orgs/:org/webhook-endpoints/:endpoint', body: () => ({ description: 'renamed' }), ok: 200, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'DELETE', path: '/v1/orgs/:org/webhook-endpoints/:endpoint', ok: 204, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/webhook-endpoints/:endpoint/attempts', ok: 200, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/webhook-secret', ok: 200, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'POST', path: '/v1/orgs/:org/webhook-secret/rotate', ok: 200, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/webhook-messages', ok: 200, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/webhook-messages/:message/attempts', ok: 200, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'POST', path: '/v1/orgs/:org/webhook-messages/:message/replay', ok: 202, roles: KEY_MANAGERS, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/usage', ok: 200, roles: ALL, scopes: ['usage:read', 'admin'] },
  { method: 'GET', path: '/v1/orgs/:org/billing/upcoming', ok: 200, roles: BILLING, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/billing', ok: 200, roles: BILLING, scopes: ['admin'] },
  { method: 'GET', path: '/v1/orgs/:org/billing/invoices', ok: 200, roles: BILLING, scopes: ['admin'] },
  // Ledger-only mode here: a role allowed to pay gets 409 stripe_not_configured, the others 403.
  { method: 'POST', path: '/v1/orgs/:org/billing/checkout', body: () => ({ plan: 'pro' }), ok: 409, roles: BILLING, scopes: ['admin'] },
  { method: 'POST', path: '/v1/orgs/:org/billing/portal', ok: 409, roles: BILLING, scopes: ['admin'] },
  { method: 'PUT', path: '/v1/orgs/:org/plan', body: () => ({ plan: 'pro' }), ok: 200, roles: OWNER_ADMIN, scopes: ['admin'] },
];

// Every scope there is gets a key (a new scope is then checked against this table's `scopes`).
const SCOPES: readonly Scope[] = API_KEY_SCOPES;

let env: Env;
let orgId: string;
const sessions = new Map<Role, Caller>();
const keys = new Map<Scope, Caller>();

const SIGNATURE: ModelSignature = { inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }], outputs: [{ name: 'probs', dtype: 'float32', shape: ['batch', 3] }] };

/** A model of the organization with versions 1 and 2 (2 is the default, so 1 can be deleted). */
async function addUploadedModel(name: string): Promise<void> {
  for (const version of ['1', '2']) {
    const sha256 = randomBytes(32).toString('hex');
    await registerUploadedVersion(env.db.prisma, { orgId, name, version, sha256, sizeBytes: 100, artifactUri: `storage:sha256/${sha256}.onnx`, signature: SIGNATURE, config: uploadedVersionConfig(SIGNATURE) });
  }
}

/** Fresh objects for one call, so a delete or revoke by one caller never spoils the next. */
async function resolve(path: string, method?: Route['method']): Promise<string> {
  let p = path.replace(':org', orgId);
  if (p.includes(':member')) p = p.replace(':member', await addBareMember(env.db.prisma, orgId));
  if (p.includes(':invitation')) p = p.replace(':invitation', await addInvitation(env.db.prisma, orgId));
  if (p.includes(':key')) p = p.replace(':key', (await addKey(env.db.prisma, orgId, ['keys:write'], 'live', 'target')).id);
  if (p.includes(':endpoint')) p = p.replace(':endpoint', await addWebhookEndpoint(env.db.prisma, orgId));
  if (p.includes(':message')) p = p.replace(':message', await addWebhookMessage(env.db.prisma, orgId));
  if (p.includes(':name')) {
    const name = `matrix-${randomBytes(4).toString('hex')}`;
    if (method === 'DELETE') await addUploadedModel(name);
    p = p.replace(':name', name).replace(':version', '1');
  }
  return p;
}

async function expectOutcome(route: Route, caller: Caller, allowed: boolean, who: string): Promise<void> {
  const path = await resolve(route.path, route.method);
  const r = await env.call(route.method, path, caller, route.body?.());
  const seen = { who, route: `${route.method} ${route.path}`, status: r.status, code: r.json?.code };
  if (allowed) {
    expect(seen).toEqual({ ...seen, status: route.ok });
  } else {
    expect(seen).toEqual({ ...seen, status: 403, code: 'forbidden' });
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  }
}

beforeAll(async () => {
  env = await startManagementEnv('role_matrix');
  const owner = await signup(env, 'owner@matrix.test', 'Matrix');
  orgId = owner.orgId;
  // Hundreds of key requests in a few seconds: a plan whose rate limits they stay under (test/gateway/rate-limits covers the limits).
  await env.db.prisma.organization.update({ where: { id: orgId }, data: { plan: { connect: { key: 'enterprise' } } } });
  sessions.set('owner', owner.session);
  for (const role of ['admin', 'developer', 'billing', 'viewer'] as const) {
    const m = await addMember(env.db.prisma, orgId, role);
    sessions.set(role, await login(env, m.email));
  }
  for (const scope of SCOPES) keys.set(scope, { key: (await addKey(env.db.prisma, orgId, [scope], 'live', scope)).secret });
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

describe('the role matrix of the management API', () => {
  it('lists every management route the gateway serves', async () => {
    const doc = (await env.call('GET', '/openapi.json', null)).json;
    const served = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => path.startsWith('/v1/orgs/{org}'))
      .flatMap(([path, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'patch', 'put', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${path}`));
    const tabled = ROUTES.map(
      (r) =>
        `${r.method} ${r.path
          .replace(':org', '{org}')
          .replace(/:(member|invitation|key|endpoint|message)\b/, (_, n: string) => `{${n === 'member' ? 'memberId' : 'id'}}`)
          .replace(/:(name|version)\b/g, '{$1}')}`,
    );
    expect([...served].sort()).toEqual([...tabled].sort());
  });

  for (const role of ['owner', 'admin', 'developer', 'billing', 'viewer'] as const) {
    it(`gives the ${role} role exactly the routes of the matrix`, async () => {
      for (const route of ROUTES) await expectOutcome(route, sessions.get(role)!, route.roles.includes(role), role);
    });
  }

  for (const scope of SCOPES) {
    it(`gives a key with only "${scope}" exactly the routes of its scope`, async () => {
      for (const route of ROUTES) await expectOutcome(route, keys.get(scope)!, route.scopes.includes(scope), `key ${scope}`);
    });
  }

  it('answers 401 to anonymous callers on every route', async () => {
    for (const route of ROUTES) {
      const r = await env.call(route.method, await resolve(route.path), null, route.body?.());
      expect({ route: route.path, status: r.status, code: r.json?.code }).toEqual({ route: route.path, status: 401, code: 'unauthenticated' });
    }
  });

  it('refuses a cookie write without the CSRF token', async () => {
    const owner = sessions.get('owner') as { session: string; csrf: string };
    const r = await env.call('POST', `/v1/orgs/${orgId}/api-keys`, { session: owner.session, csrf: 'wrong' }, { name: 'x' });
    expect({ status: r.status, code: r.json.code }).toEqual({ status: 403, code: 'csrf_failed' });
  });
});

describe('no privilege escalation through keys', () => {
  it('lets a keys:write key manage keys within its own scopes only', async () => {
    const k = keys.get('keys:write')!;
    const own = await env.call('POST', `/v1/orgs/${orgId}/api-keys`, k, { name: 'child', scopes: ['keys:write'] });
    expect(own.status).toBe(201);
    for (const scopes of [['predict'], ['admin'], ['keys:write', 'usage:read']]) {
      const r = await env.call('POST', `/v1/orgs/${orgId}/api-keys`, k, { name: 'escalate', scopes });
      expect({ scopes, status: r.status, code: r.json.code }).toEqual({ scopes, status: 403, code: 'forbidden' });
    }
    const widen = await env.call('PATCH', `/v1/orgs/${orgId}/api-keys/${own.json.id}`, k, { scopes: ['keys:write', 'admin'] });
    expect(widen.status).toBe(403);
  });

  it('lets only owners, admins and admin keys create admin keys', async () => {
    for (const [who, caller] of [['owner', sessions.get('owner')], ['admin', sessions.get('admin')], ['admin key', keys.get('admin')]] as const) {
      const r = await env.call('POST', `/v1/orgs/${orgId}/api-keys`, caller!, { name: `admin by ${who}`, scopes: ['admin'] });
      expect({ who, status: r.status }).toEqual({ who, status: 201 });
      expect(r.json.secret).toMatch(/^sk_live_/);
    }
    const dev = await env.call('POST', `/v1/orgs/${orgId}/api-keys`, sessions.get('developer')!, { name: 'admin by dev', scopes: ['admin'] });
    expect({ status: dev.status, code: dev.json.code }).toEqual({ status: 403, code: 'forbidden' });
    const devPredict = await env.call('POST', `/v1/orgs/${orgId}/api-keys`, sessions.get('developer')!, { name: 'predict by dev' });
    expect(devPredict.status).toBe(201);
    expect(devPredict.json.scopes).toEqual(['predict']);
  });
});

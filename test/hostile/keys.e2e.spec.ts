// Hostile suite, key management and tenancy (issue 9, items 1, 2 and 9): each test is an attack
// written as requests against a real gateway process (own Postgres schema, own Redis prefix),
// and the refusal it must meet.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PATH_METADATA, METHOD_METADATA, GUARDS_METADATA } from '@nestjs/common/constants.js';
import { RequestMethod } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { buildTinyClassifier, TINY_CLASSIFIER_SPEC } from '#tools/model-builders';
import { OrgGuard } from '#platform/tenancy';
import { GatewayModule } from '../../apps/gateway/src/gateway.module.js';
import { addBareMember, addInvitation, addKey, addMember, login, signup, startManagementEnv, type Caller, type Env, type Reply } from '../support/management.js';
import { addWebhookEndpoint, addWebhookMessage } from '../support/webhooks.js';

let env: Env;
let orgId: string;
let owner: Caller;

beforeAll(async () => {
  env = await startManagementEnv('hostile_keys');
  const s = await signup(env, 'owner@hostile-keys.test', 'Hostile Keys');
  orgId = s.orgId;
  owner = s.session;
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

const keyPath = (id = '') => `/v1/orgs/${orgId}/api-keys${id ? `/${id}` : ''}`;

function expectProblem(r: Reply, status: number, code: string, label = ''): void {
  expect({ label, status: r.status, code: r.json?.code }).toEqual({ label, status, code });
}

/** A live key made by the owner over HTTP (so it has a creator and audit trail like any other). */
async function liveKey(scopes: string[], name = 'victim'): Promise<{ id: string; secret: string }> {
  const r = await env.call('POST', keyPath(), owner, { name, mode: 'live', scopes });
  if (r.status !== 201) throw new Error(r.text);
  return { id: r.json.id, secret: r.json.secret };
}

/** Every write route (not GET/HEAD/OPTIONS) behind OrgGuard that the gateway serves, as "METHOD /path/:param". */
function managementWriteRoutes(): string[] {
  const controllers = (Reflect.getMetadata('controllers', GatewayModule) ?? []) as { prototype: Record<string, unknown> }[];
  const routes: string[] = [];
  for (const c of controllers) {
    const classGuards = (Reflect.getMetadata(GUARDS_METADATA, c) ?? []) as unknown[];
    const base = String(Reflect.getMetadata(PATH_METADATA, c) ?? '');
    for (const name of Object.getOwnPropertyNames(c.prototype)) {
      const handler = c.prototype[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (method === undefined || [RequestMethod.GET, RequestMethod.HEAD, RequestMethod.OPTIONS].includes(method)) continue;
      const guards = [...classGuards, ...((Reflect.getMetadata(GUARDS_METADATA, handler) ?? []) as unknown[])];
      if (!guards.includes(OrgGuard)) continue;
      const path = ['', base, String(Reflect.getMetadata(PATH_METADATA, handler) ?? '')].join('/').replace(/\/+/g, '/').replace(/\/$/, '');
      routes.push(`${RequestMethod[method]} ${path}`);
    }
  }
  return routes.sort();
}

interface Attack {
  /** "METHOD /path" as the controllers declare it. */
  route: string;
  /** The concrete path and body, against live objects where there is a choice. */
  make: () => Promise<{ path: string; body?: unknown }>;
}

// Every management write, aimed at the most valuable target: live keys, admins, the owner.
const ATTACKS: Attack[] = [
  { route: 'PATCH /v1/orgs/:org', make: async () => ({ path: `/v1/orgs/${orgId}`, body: { name: 'Owned by a test key' } }) },
  { route: 'PATCH /v1/orgs/:org/members/:memberId', make: async () => ({ path: `/v1/orgs/${orgId}/members/${await addBareMember(env.db.prisma, orgId, 'viewer')}`, body: { role: 'admin' } }) },
  { route: 'DELETE /v1/orgs/:org/members/:memberId', make: async () => ({ path: `/v1/orgs/${orgId}/members/${await addBareMember(env.db.prisma, orgId, 'admin')}` }) },
  { route: 'POST /v1/orgs/:org/invitations', make: async () => ({ path: `/v1/orgs/${orgId}/invitations`, body: { email: `me-${randomBytes(3).toString('hex')}@attacker.test`, role: 'admin' } }) },
  { route: 'DELETE /v1/orgs/:org/invitations/:id', make: async () => ({ path: `/v1/orgs/${orgId}/invitations/${await addInvitation(env.db.prisma, orgId)}` }) },
  { route: 'POST /v1/orgs/:org/api-keys', make: async () => ({ path: keyPath(), body: { name: 'minted', mode: 'live', scopes: ['admin'] } }) },
  { route: 'PATCH /v1/orgs/:org/api-keys/:id', make: async () => ({ path: keyPath((await liveKey(['predict'])).id), body: { expires_at: null, rate_limit_per_minute: null } }) },
  { route: 'POST /v1/orgs/:org/api-keys/:id/revoke', make: async () => ({ path: `${keyPath((await liveKey(['admin'])).id)}/revoke` }) },
  { route: 'POST /v1/orgs/:org/api-keys/:id/roll', make: async () => ({ path: `${keyPath((await liveKey(['admin'])).id)}/roll`, body: { grace_period_seconds: 0 } }) },
  { route: 'POST /v1/orgs/:org/models/:name/versions/:version', make: async () => ({ path: `/v1/orgs/${orgId}/models/planted-${randomBytes(3).toString('hex')}/versions/1`, body: buildTinyClassifier(TINY_CLASSIFIER_SPEC) }) },
  // The guard answers before the version is looked up, so any version path is a fair target.
  { route: 'DELETE /v1/orgs/:org/models/:name/versions/:version', make: async () => ({ path: `/v1/orgs/${orgId}/models/planted-${randomBytes(3).toString('hex')}/versions/2` }) },
  // Webhooks: a test key must not point the organization's events at itself, silence them, or learn the signing secret.
  { route: 'POST /v1/orgs/:org/webhook-endpoints', make: async () => ({ path: `/v1/orgs/${orgId}/webhook-endpoints`, body: { url: 'https://attacker.test/collect' } }) },
  { route: 'PATCH /v1/orgs/:org/webhook-endpoints/:id', make: async () => ({ path: `/v1/orgs/${orgId}/webhook-endpoints/${await addWebhookEndpoint(env.db.prisma, orgId)}`, body: { url: 'https://attacker.test/collect' } }) },
  { route: 'DELETE /v1/orgs/:org/webhook-endpoints/:id', make: async () => ({ path: `/v1/orgs/${orgId}/webhook-endpoints/${await addWebhookEndpoint(env.db.prisma, orgId)}` }) },
  { route: 'POST /v1/orgs/:org/webhook-secret/rotate', make: async () => ({ path: `/v1/orgs/${orgId}/webhook-secret/rotate` }) },
  // Billing (Stripe mode): a test key must not start a checkout or open the customer portal.
  { route: 'POST /v1/orgs/:org/billing/checkout', make: async () => ({ path: `/v1/orgs/${orgId}/billing/checkout`, body: { plan: 'pro' } }) },
  { route: 'POST /v1/orgs/:org/billing/portal', make: async () => ({ path: `/v1/orgs/${orgId}/billing/portal` }) },
  { route: 'POST /v1/orgs/:org/webhook-messages/:id/replay', make: async () => ({ path: `/v1/orgs/${orgId}/webhook-messages/${await addWebhookMessage(env.db.prisma, orgId)}/replay` }) },
  // Billing: a test key must not move the organization to another plan (and its prices).
  { route: 'PUT /v1/orgs/:org/plan', make: async () => ({ path: `/v1/orgs/${orgId}/plan`, body: { plan: 'enterprise' } }) },
];

/** What a test key must not be able to move. */
async function snapshot() {
  const p = env.db.prisma;
  return {
    org: await p.organization.findUniqueOrThrow({ where: { id: orgId }, select: { name: true, planId: true } }),
    liveKeys: await p.apiKey.findMany({ where: { orgId, mode: 'live' }, orderBy: { id: 'asc' }, select: { id: true, name: true, scopes: true, expiresAt: true, revokedAt: true, rolledToId: true, rateLimitPerMinute: true } }),
    members: await p.membership.findMany({ where: { orgId }, orderBy: { id: 'asc' }, select: { id: true, role: true } }),
    invitations: await p.invitation.findMany({ where: { orgId }, orderBy: { id: 'asc' }, select: { id: true, revokedAt: true } }),
    models: await p.model.count({ where: { namespace: orgId } }),
    webhookEndpoints: await p.webhookEndpoint.findMany({ where: { orgId }, orderBy: { id: 'asc' }, select: { id: true, url: true, enabled: true, deletedAt: true } }),
    webhookSecret: await p.webhookSecret.findUnique({ where: { orgId }, select: { secret: true, rotatedAt: true } }),
    webhookMessages: await p.webhookMessage.findMany({ where: { orgId }, orderBy: { id: 'asc' }, select: { id: true, status: true, nextAttemptAt: true } }),
  };
}

describe('item 1: test-mode keys do not administer the account', () => {
  it('the list of attacks covers every management write route the gateway serves', () => {
    // A new management write (billing, webhooks, …) must be added here, and so be tried by a test key.
    expect(ATTACKS.map((a) => a.route).sort()).toEqual(managementWriteRoutes());
  });

  // item 1: an sk_test_ key with every scope tries every management write; each is refused with 403 forbidden naming test keys.
  it('an sk_test_ key holding every scope is refused every management write (403 forbidden), and nothing changes', async () => {
    const attacker = await addKey(env.db.prisma, orgId, ['predict', 'usage:read', 'keys:write', 'admin'], 'test', 'ci');
    const caller: Caller = { key: attacker.secret };
    for (const attack of ATTACKS) {
      const { path, body } = await attack.make();
      const before = await snapshot();
      const r = await env.call(attack.route.split(' ')[0]!, path, caller, body);
      expectProblem(r, 403, 'forbidden', attack.route);
      expect({ route: attack.route, detail: r.json.detail }).toEqual({ route: attack.route, detail: expect.stringMatching(/^Test-mode API keys cannot/) });
      expect({ route: attack.route, state: await snapshot() }).toEqual({ route: attack.route, state: before });
    }
    // Nothing was recorded in the attacker's name.
    expect(await env.db.prisma.auditLog.count({ where: { orgId, actorId: attacker.id } })).toBe(0);
  });

  // item 1: the old bypass — revocation skipped the grant check, so a test keys:write key could revoke live keys.
  it('an sk_test_ keys:write key cannot revoke, roll or change a live key, even a predict-only one', async () => {
    const attacker: Caller = { key: (await addKey(env.db.prisma, orgId, ['keys:write', 'predict'], 'test', 'ci')).secret };
    for (const scopes of [['predict'], ['keys:write', 'predict'], ['admin', 'predict']]) {
      const victim = await liveKey(scopes);
      for (const [method, suffix, body] of [
        ['POST', '/revoke', undefined],
        ['POST', '/roll', { grace_period_seconds: 0 }],
        ['PATCH', '', { name: 'hijacked' }],
      ] as const) {
        const r = await env.call(method, `${keyPath(victim.id)}${suffix}`, attacker, body);
        expectProblem(r, 403, 'forbidden', `${method} ${suffix} on live ${scopes.join('+')}`);
        expect(r.json.detail).toMatch(/^Test-mode API keys cannot .*live keys/);
      }
      expect((await env.call('GET', '/v1/predictions?limit=1', { key: victim.secret })).status).toBe(200);
      expect(await env.db.prisma.apiKey.findUniqueOrThrow({ where: { id: victim.id }, select: { revokedAt: true, rolledToId: true, name: true } })).toEqual({ revokedAt: null, rolledToId: null, name: 'victim' });
    }
  });

  // item 1: test mode is for calling the API — reads, predictions and test keys still work, so the refusal is not a blanket one.
  it('an sk_test_ admin key still calls the API, reads, and manages test keys', async () => {
    const caller: Caller = { key: (await addKey(env.db.prisma, orgId, ['predict', 'admin'], 'test', 'ci')).secret };
    expect((await env.call('GET', '/v1/predictions?limit=1', caller)).status).toBe(200);
    for (const path of [`/v1/orgs/${orgId}`, `/v1/orgs/${orgId}/members`, keyPath(), `/v1/orgs/${orgId}/audit-log`]) expect({ path, status: (await env.call('GET', path, caller)).status }).toEqual({ path, status: 200 });
    const made = await env.call('POST', keyPath(), caller, { name: 'sandbox', mode: 'test', scopes: ['predict'] });
    expect(made.status).toBe(201);
    expect((await env.call('POST', `${keyPath(made.json.id)}/revoke`, caller)).status).toBe(200);
  });
});

describe('item 2: a rolled or expired key cannot be revived', () => {
  // item 2: during its grace period, a rolled key PATCHes {"expires_at": null} on itself to live for ever.
  it('a rolled key reviving itself with PATCH {"expires_at": null} gets 409 key_not_active, and still expires', async () => {
    const old = await liveKey(['keys:write', 'predict'], 'rolled');
    const rolled = await env.call('POST', `${keyPath(old.id)}/roll`, owner, { grace_period_seconds: 3600 });
    expect(rolled.status).toBe(201);
    const graceEnd = (await env.db.prisma.apiKey.findUniqueOrThrow({ where: { id: old.id } })).expiresAt;
    expect(graceEnd).not.toBeNull();
    // The old secret still works in its grace period: that is what it attacks with.
    expect((await env.call('GET', '/v1/predictions?limit=1', { key: old.secret })).status).toBe(200);
    for (const [who, caller] of [
      ['the rolled key itself', { key: old.secret }],
      ['the owner', owner],
    ] as const) {
      for (const body of [{ expires_at: null }, { expires_at: new Date(Date.now() + 365 * 86_400_000).toISOString() }, { name: 'renamed', scopes: ['keys:write', 'predict'] }]) {
        expectProblem(await env.call('PATCH', keyPath(old.id), caller, body), 409, 'key_not_active', `${who} ${JSON.stringify(body)}`);
      }
    }
    const after = await env.call('GET', keyPath(old.id), owner);
    expect(after.json).toMatchObject({ status: 'rolled', expires_at: graceEnd!.toISOString(), name: 'rolled' });
  });

  // item 2: any expired key given a new expiry comes back to life.
  it('an expired key given a new expiry gets 409 key_not_active and stays refused', async () => {
    const k = await liveKey(['predict'], 'expired');
    const past = new Date(Date.now() - 60_000);
    await env.db.prisma.apiKey.update({ where: { id: k.id }, data: { expiresAt: past } });
    for (const body of [{ expires_at: new Date(Date.now() + 86_400_000).toISOString() }, { expires_at: null }, { rate_limit_per_minute: 5 }]) {
      expectProblem(await env.call('PATCH', keyPath(k.id), owner, body), 409, 'key_not_active', JSON.stringify(body));
    }
    expect((await env.db.prisma.apiKey.findUniqueOrThrow({ where: { id: k.id } })).expiresAt).toEqual(past);
    expect((await env.call('GET', '/v1/predictions?limit=1', { key: k.secret })).status).toBe(401);
  });
});

describe('item 9: a removed member takes no working key along', () => {
  // item 9: a member creates keys (and keys through those keys), is removed, and tries to keep using them.
  it("removing a member revokes the keys they created, and the keys those keys created, at once and with audit entries; others' keys keep working", async () => {
    const leaver = await addMember(env.db.prisma, orgId, 'developer');
    const session = await login(env, leaver.email);
    const own = await env.call('POST', keyPath(), session, { name: 'leaver-own', mode: 'live', scopes: ['keys:write', 'predict'] });
    expect(own.status).toBe(201);
    // A chain: the member's session makes `own`, `own` makes `second`, `second` makes `third`.
    const second = await env.call('POST', keyPath(), { key: own.json.secret }, { name: 'leaver-made-by-key', mode: 'live', scopes: ['keys:write', 'predict'] });
    expect(second.status).toBe(201);
    const third = await env.call('POST', keyPath(), { key: second.json.secret }, { name: 'leaver-made-by-key-of-key', mode: 'live', scopes: ['predict'] });
    expect(third.status).toBe(201);
    const chain = [own.json, second.json, third.json] as { id: string; secret: string }[];
    const bystander = await liveKey(['predict'], 'bystander');
    // Warm the gateway's caches: only an invalidation can explain an immediate 401 afterwards.
    for (const k of [...chain, bystander]) expect((await env.call('GET', '/v1/predictions?limit=1', { key: k.secret })).status).toBe(200);

    const member = await env.db.prisma.membership.findFirstOrThrow({ where: { orgId, userId: leaver.userId } });
    expect((await env.call('DELETE', `/v1/orgs/${orgId}/members/${member.id}`, owner)).status).toBe(204);

    for (const k of chain) expect({ name: k.id, status: (await env.call('GET', '/v1/predictions?limit=1', { key: k.secret })).status }).toEqual({ name: k.id, status: 401 });
    expect((await env.call('GET', '/v1/predictions?limit=1', { key: bystander.secret })).status).toBe(200);
    const keys = await env.call('GET', `${keyPath()}?include_revoked=true&limit=100`, owner);
    const status = (id: string) => keys.json.data.find((k: { id: string }) => k.id === id)?.status;
    expect([...chain.map((k) => status(k.id)), status(bystander.id)]).toEqual(['revoked', 'revoked', 'revoked', 'active']);
    const entries = await env.db.prisma.auditLog.findMany({ where: { orgId, action: 'api_key.revoke', targetId: { in: chain.map((k) => k.id) } } });
    expect(entries).toHaveLength(3);
    for (const e of entries) expect(e.changes).toMatchObject({ after: { reason: 'member_removed', member_id: member.id } });
  });
});

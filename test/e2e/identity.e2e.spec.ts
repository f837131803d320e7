// Sign-up, log-in, sessions, CSRF and log-in throttling, through the gateway's controllers
// (in-process app.inject), real Postgres and Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateApiKey } from '#platform/api-keys';
import { uuidv7 } from '#infra/db';
import { ROLE_PERMISSIONS } from '#platform/tenancy';
import { createKey, Client, expectProblem, startAccountsApp, type AccountsApp } from './accounts-app.js';

let a: AccountsApp;

beforeAll(async () => {
  a = await startAccountsApp('identity', { AUTH_THROTTLE_PER_MINUTE: '5', PUBLIC_BASE_URL: 'https://stratum.example' });
});

afterAll(async () => {
  await a.close();
});

describe('signup', () => {
  it('creates the user and an owned organization on the free plan (202, no session), an audit entry; the log-in then gives a session cookie', async () => {
    const c = new Client(a, '10.1.0.1');
    const accepted = await c.signupOnly('  Ada@Example.COM ', 'correct horse battery', { name: 'Ada' });
    expect(accepted.status).toBe(202);
    expect(accepted.json).toEqual({ object: 'signup', email: 'ada@example.com' });
    expect(accepted.headers['set-cookie']).toBeUndefined();
    expect(accepted.headers['cache-control']).toBe('no-store');
    const r = await c.call('POST', '/v1/auth/login', { body: { email: 'ada@example.com', password: 'correct horse battery' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ object: 'user', email: 'ada@example.com', name: 'Ada' });
    expect(r.json.memberships).toEqual([{ org_id: expect.any(String), slug: 'ada-s-organization', name: "Ada's organization", role: 'owner', permissions: [...ROLE_PERMISSIONS.owner] }]);
    expect(r.json.csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toMatch(/^stratum_session=[A-Za-z0-9_-]{43}; Max-Age=604800; Expires=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);

    const user = await a.db.prisma.user.findUniqueOrThrow({ where: { email: 'ada@example.com' } });
    expect(user.passwordHash).toMatch(/^\$argon2id\$/);
    const org = await a.db.prisma.organization.findUniqueOrThrow({ where: { id: r.json.memberships[0].org_id }, include: { plan: true } });
    expect(org.plan.key).toBe('free');
    const audit = await a.db.prisma.auditLog.findMany({ where: { orgId: org.id }, orderBy: { id: 'asc' } });
    expect(audit.map((e) => [e.action, e.actorType, e.actorId, e.ip])).toEqual([
      ['org.create', 'user', user.id, '10.1.0.1'],
      ['member.create', 'user', user.id, '10.1.0.1'],
    ]);

    // The session lives in Redis under the digest of the cookie, with the sliding TTL.
    const keys = await a.redis.keys(`${a.prefix}:session:*`);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    expect(keys.every((k) => /:session:[0-9a-f]{64}$/.test(k))).toBe(true);
    expect(keys.some((k) => k.endsWith(c.cookie!))).toBe(false);
    const ttl = await a.redis.ttl(keys[0]!);
    expect(ttl).toBeGreaterThan(604_700);
  });

  it('uses organization_name when given', async () => {
    const r = await new Client(a).signup('grace@example.com', 'correct horse battery', { organization_name: 'Navy Labs' });
    expect(r.status).toBe(200);
    expect(r.json.memberships).toEqual([expect.objectContaining({ name: 'Navy Labs', slug: 'navy-labs', role: 'owner' })]);
  });

  it('refuses bad input with 422 and JSON Pointer errors (unknown fields, short password, bad email)', async () => {
    const c = new Client(a);
    const r = await c.call('POST', '/v1/auth/signup', { body: { email: 'not-an-email', password: 'short', admin: true } });
    expectProblem(r, 422, 'validation_failed');
    const paths = (r.json.errors as { path: string }[]).map((e) => e.path).sort();
    expect(paths).toEqual(['/admin', '/email', '/password']);
    const long = await c.signupOnly('long@example.com', 'x'.repeat(257));
    expectProblem(long, 422, 'validation_failed');
    expectProblem(await c.call('POST', '/v1/auth/signup', { body: [] }), 422, 'validation_failed');
  });

  it('an existing email gets the same 202 as a new one, with either password, and nothing changes', async () => {
    const first = await new Client(a).signup('linus@example.com');
    expect(first.status).toBe(200);
    const again = await new Client(a, '10.1.0.9').signupOnly('linus@example.com', 'correct horse battery', { organization_name: 'Second' });
    const wrong = await new Client(a, '10.1.0.9').signupOnly('linus@example.com', 'another password!');
    const fresh = await new Client(a, '10.1.0.9').signupOnly('linus2@example.com', 'another password!');
    for (const r of [again, wrong, fresh]) {
      expect(r.status).toBe(202);
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    expect(again.json).toEqual({ object: 'signup', email: 'linus@example.com' });
    expect(wrong.json).toEqual({ object: 'signup', email: 'linus@example.com' });
    expect(fresh.json).toEqual({ object: 'signup', email: 'linus2@example.com' });
    const user = await a.db.prisma.user.findUniqueOrThrow({ where: { email: 'linus@example.com' }, include: { memberships: true } });
    expect(user.memberships).toHaveLength(1); // no second organization
    // The original password still works; the attempted one does not.
    const c = new Client(a, '10.1.0.10');
    expect((await c.call('POST', '/v1/auth/login', { body: { email: 'linus@example.com', password: 'correct horse battery' } })).status).toBe(200);
    expectProblem(await c.call('POST', '/v1/auth/login', { body: { email: 'linus@example.com', password: 'another password!' } }), 401, 'invalid_credentials');
  });
});

describe('login, me, logout', () => {
  it('logs in, shows the user and their organizations, logs out', async () => {
    await new Client(a).signup('margaret@example.com', 'apollo guidance 11');
    const c = new Client(a, '10.2.0.1');
    const login = await c.call('POST', '/v1/auth/login', { body: { email: 'MARGARET@example.com', password: 'apollo guidance 11' } });
    expect(login.status).toBe(200);
    expect(login.json.email).toBe('margaret@example.com');
    const me = await c.call('GET', '/v1/me');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ email: 'margaret@example.com', csrf_token: c.csrf, memberships: [expect.objectContaining({ role: 'owner' })] });
    expect(me.headers['cache-control']).toBe('no-store');

    const cookie = c.cookie;
    const out = await c.call('POST', '/v1/auth/logout');
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^stratum_session=; Max-Age=0;/);
    c.cookie = cookie; // replaying the old cookie no longer works: the session is gone
    expectProblem(await c.call('GET', '/v1/me'), 401, 'unauthenticated');
  });

  it('unknown email and wrong password give byte-identical bodies (but for the request id)', async () => {
    await new Client(a).signup('katherine@example.com', 'orbital mechanics');
    const strip = (j: any) => ({ ...j, requestId: undefined });
    const wrong = await new Client(a, '10.3.0.1').call('POST', '/v1/auth/login', { body: { email: 'katherine@example.com', password: 'not the password' } });
    const unknown = await new Client(a, '10.3.0.2').call('POST', '/v1/auth/login', { body: { email: 'nobody@example.com', password: 'not the password' } });
    expectProblem(wrong, 401, 'invalid_credentials');
    expect(strip(unknown.json)).toEqual(strip(wrong.json));
    expect(unknown.status).toBe(wrong.status);
  });

  it('an unknown email costs an argon2 verification too (timing within a factor of the wrong-password case)', async () => {
    await new Client(a).signup('dorothy@example.com', 'crystallography');
    const time = async (email: string, ip: string) => {
      const t = performance.now();
      await new Client(a, ip).call('POST', '/v1/auth/login', { body: { email, password: 'wrong password' } });
      return performance.now() - t;
    };
    await time('warmup@example.com', '10.4.0.9');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time('dorothy@example.com', `10.4.1.${i}`));
      unknown.push(await time(`ghost${i}@example.com`, `10.4.2.${i}`));
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[2]!;
    // Both run one argon2id verify (~10+ ms); without the dummy hash the unknown case would take
    // ~1 ms, a factor of 10 or more. Within a factor of 3 either way: a loaded machine (other test
    // files on the same 2 cores) stretches single samples, and 5 interleaved samples' medians hold.
    expect(median(unknown)).toBeGreaterThan(median(known) / 3);
    expect(median(known)).toBeGreaterThan(median(unknown) / 3);
  });

  it('throttles failed log-ins per account (429 with Retry-After), whatever the IP', async () => {
    await new Client(a).signup('barbara@example.com', 'liskov substitution');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await new Client(a, `10.5.0.${i}`).call('POST', '/v1/auth/login', { body: { email: 'barbara@example.com', password: `wrong ${i}` } });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const blocked = await new Client(a, '10.5.0.99').call('POST', '/v1/auth/login', { body: { email: 'barbara@example.com', password: 'liskov substitution' } });
    expectProblem(blocked, 429, 'rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('throttles failed log-ins per IP across accounts', async () => {
    const c = new Client(a, '10.6.0.1');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await c.call('POST', '/v1/auth/login', { body: { email: `victim${i}@example.com`, password: 'guess guess' } })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    // Another IP is not affected.
    expect((await new Client(a, '10.6.0.2').call('POST', '/v1/auth/login', { body: { email: 'victim0@example.com', password: 'guess guess' } })).status).toBe(401);
  });
});

describe('API keys on management routes', () => {
  it('throttles failed key verifications per IP (429 with Retry-After) on org routes too', async () => {
    const c = new Client(a, '10.8.0.1');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await c.call('GET', '/v1/orgs', { key: generateApiKey('live').secret })).status);
    for (let i = 0; i < 3; i++) statuses.push((await c.call('GET', `/v1/orgs/${uuidv7()}`, { key: generateApiKey('live').secret })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const blocked = await c.call('GET', '/v1/orgs', { key: generateApiKey('live').secret });
    expectProblem(blocked, 429, 'rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another IP is not affected.
    expect((await new Client(a, '10.8.0.2').call('GET', '/v1/orgs', { key: generateApiKey('live').secret })).status).toBe(401);
  });
});

describe('CSRF', () => {
  it('a state-changing request with the cookie needs the X-CSRF-Token of the session', async () => {
    const c = new Client(a, '10.7.0.1');
    const s = await c.signup('hedy@example.com', 'frequency hopping');
    const org = s.json.memberships[0].org_id as string;
    expectProblem(await c.call('PATCH', `/v1/orgs/${org}`, { body: { name: 'Renamed' }, csrf: false }), 403, 'csrf_failed');
    expectProblem(await c.call('PATCH', `/v1/orgs/${org}`, { body: { name: 'Renamed' }, csrf: 'x'.repeat(43) }), 403, 'csrf_failed');
    expectProblem(await c.call('POST', '/v1/auth/logout', { csrf: false }), 403, 'csrf_failed');
    expect((await c.call('PATCH', `/v1/orgs/${org}`, { body: { name: 'Renamed' } })).status).toBe(200);
    // Reads need no token.
    expect((await c.call('GET', `/v1/orgs/${org}`, { csrf: false })).json.name).toBe('Renamed');
  });

  it('a request with a bearer key needs no CSRF token', async () => {
    const c = new Client(a, '10.7.0.2');
    const s = await c.signup('radia@example.com', 'spanning tree protocol');
    const org = s.json.memberships[0].org_id as string;
    const key = await createKey(a, org, ['admin'], 'live');
    const anon = new Client(a, '10.7.0.3');
    const r = await anon.call('PATCH', `/v1/orgs/${org}`, { body: { name: 'By key' }, key });
    expect(r.status).toBe(200);
    expect(r.json.name).toBe('By key');
  });

  it('without a session: 401 unauthenticated on /v1/me and on organization routes', async () => {
    const c = new Client(a);
    expectProblem(await c.call('GET', '/v1/me'), 401, 'unauthenticated');
    c.cookie = 'A'.repeat(43);
    expectProblem(await c.call('GET', '/v1/me'), 401, 'unauthenticated');
    expectProblem(await c.call('GET', '/v1/orgs'), 401, 'unauthenticated');
  });
});

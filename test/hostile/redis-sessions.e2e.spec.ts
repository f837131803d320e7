// Hostile suite, issue 9 items 6, 9 and 10: an attacker who can write to Redis (but does not
// hold the server's secret) forges or moves cached API-key entries and session records; a
// session used without pause outlives its absolute lifetime; the production cookie; sign-up
// as an email oracle. The gateway's accounts slice in-process, real Postgres and Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { ApiKeyVerifier, apiKeyCacheKey, digestApiKey } from '#platform/api-keys';
import { SessionStore } from '#platform/identity';
import { Client, createKey, expectProblem, PEPPER, startAccountsApp, type AccountsApp, type Res } from '../e2e/accounts-app.js';

let a: AccountsApp;
let victimOrg: string;
let attackerOrg: string;

beforeAll(async () => {
  a = await startAccountsApp('hostile_redis');
  victimOrg = (await new Client(a, '10.9.0.1').signup('victim@redis.test', 'victim password')).json.memberships[0].org_id;
  attackerOrg = (await new Client(a, '10.9.0.2').signup('attacker@redis.test', 'attacker password')).json.memberships[0].org_id;
});

afterAll(async () => {
  await a?.close();
});

async function until<T>(what: string, probe: () => Promise<T | undefined | null>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Uses a key once, so that its verified entry lands in Redis; returns the entry's name and value. */
async function cachedEntry(key: string): Promise<{ name: string; raw: string; digest: string }> {
  const digest = digestApiKey(key, PEPPER);
  await new Client(a).call('GET', `/v1/orgs/${attackerOrg}`, { key });
  const name = apiKeyCacheKey(a.prefix, digest);
  const raw = await until(`the cache entry of ${name}`, () => a.redis.get(name));
  return { name, raw, digest };
}

/** Forgets the in-process cache, so the next request reads Redis (as another gateway instance would). */
function forgetLocally(digest: string): void {
  a.app.get(ApiKeyVerifier).invalidate(digest);
}

describe('cached API keys in Redis', () => {
  // item 6: a forged cache entry for the attacker's own key, naming the victim's organization and the admin scope.
  it('a forged entry granting another organization and admin is refused; the key is verified from Postgres', async () => {
    const key = await createKey(a, attackerOrg, ['usage:read']);
    const { name, raw, digest } = await cachedEntry(key);
    expect(raw).toMatch(/^s1\./); // entries are signed
    const forged = { d: digest, k: { keyId: '00000000-0000-7000-8000-000000000001', orgId: victimOrg, mode: 'live', scopes: ['admin'], expiresAt: null, queuePriority: 1, rateLimitPerMinute: null, orgRateLimitPerMinute: 600, rateLimitBurst: 300, maxConcurrentPredictions: 100, monthlyQuotaUnits: null, quotaOverage: 'allow', billingStatus: 'active' } };
    const signedPart = raw.slice(0, raw.indexOf('.', 3) + 1);
    for (const value of [JSON.stringify(forged), signedPart + JSON.stringify(forged)]) {
      await a.redis.set(name, value, 'PX', 60_000);
      forgetLocally(digest);
      const c = new Client(a, '10.9.1.1');
      expectProblem(await c.call('GET', `/v1/orgs/${victimOrg}/members`, { key }), 404, 'not_found');
      forgetLocally(digest);
      // Its real organization, with its real scopes (usage:read does not read members).
      expectProblem(await c.call('GET', `/v1/orgs/${attackerOrg}/members`, { key }), 403, 'forbidden');
    }
  });

  // item 6: the victim's valid entry, moved under the attacker's key name (with the digest field rewritten to match).
  it("a valid entry copied under another key's name is refused", async () => {
    const victimKey = await createKey(a, victimOrg, ['admin']);
    const attackerKey = await createKey(a, attackerOrg, ['usage:read']);
    const victim = await cachedEntry(victimKey);
    const attacker = await cachedEntry(attackerKey);
    for (const value of [victim.raw, victim.raw.replace(victim.digest, attacker.digest)]) {
      await a.redis.set(attacker.name, value, 'PX', 60_000);
      forgetLocally(attacker.digest);
      expectProblem(await new Client(a, '10.9.1.2').call('GET', `/v1/orgs/${victimOrg}/members`, { key: attackerKey }), 404, 'not_found');
    }
    // The victim's own entry still works where it belongs.
    forgetLocally(victim.digest);
    expect((await new Client(a, '10.9.1.3').call('GET', `/v1/orgs/${victimOrg}/members`, { key: victimKey })).status).toBe(200);
  });
});

function sessionName(cookie: string, app: AccountsApp = a): string {
  return `${app.prefix}:session:${createHash('sha256').update(cookie).digest('hex')}`;
}

describe('sessions in Redis', () => {
  // item 6: a session record written into Redis under the attacker's own cookie, naming the victim.
  it('a forged session record is refused with 401', async () => {
    const attacker = new Client(a, '10.9.2.1');
    await attacker.call('POST', '/v1/auth/login', { body: { email: 'attacker@redis.test', password: 'attacker password' } });
    const victimId = (await a.db.prisma.user.findUniqueOrThrow({ where: { email: 'victim@redis.test' } })).id;
    const record = JSON.stringify({ userId: victimId, email: 'victim@redis.test', csrf: attacker.csrf, createdAt: Date.now() });
    await a.redis.set(sessionName(attacker.cookie!), record, 'EX', 3600);
    expectProblem(await attacker.call('GET', '/v1/me'), 401, 'unauthenticated');
    expectProblem(await attacker.call('GET', `/v1/orgs/${victimOrg}/members`), 401, 'unauthenticated');
  });

  // item 6: the victim's genuine (signed) record copied under the attacker's session name.
  it("the victim's valid session record copied under another session's name is refused", async () => {
    const victim = new Client(a, '10.9.2.2');
    await victim.call('POST', '/v1/auth/login', { body: { email: 'victim@redis.test', password: 'victim password' } });
    const attacker = new Client(a, '10.9.2.3');
    await attacker.call('POST', '/v1/auth/login', { body: { email: 'attacker@redis.test', password: 'attacker password' } });
    const raw = await a.redis.get(sessionName(victim.cookie!));
    expect(raw).toMatch(/^s1\./);
    await a.redis.set(sessionName(attacker.cookie!), raw!, 'EX', 3600);
    attacker.csrf = victim.csrf;
    expectProblem(await attacker.call('GET', '/v1/me'), 401, 'unauthenticated');
    expect((await victim.call('GET', '/v1/me')).json.email).toBe('victim@redis.test');
  });
});

describe('absolute session lifetime', () => {
  let b: AccountsApp;

  beforeAll(async () => {
    b = await startAccountsApp('hostile_session_life', { SESSION_TTL_SECONDS: '86400', SESSION_ABSOLUTE_TTL_SECONDS: String(3 * 86400) });
    await new Client(b).signup('busy@redis.test', 'busy password!');
  });

  afterAll(async () => {
    await b?.close();
  });

  // item 9: used every 20 hours (within the 24 h sliding TTL), the session still ends 72 h after log-in.
  it('a session used continuously is refused past its absolute lifetime', async () => {
    const store = b.app.get(SessionStore);
    const start = Date.now();
    let offsetHours = 0;
    store.now = () => start + offsetHours * 3_600_000;
    try {
      const c = new Client(b, '10.9.3.1');
      expect((await c.call('POST', '/v1/auth/login', { body: { email: 'busy@redis.test', password: 'busy password!' } })).status).toBe(200);
      const statuses: number[] = [];
      for (const hours of [0, 20, 40, 60, 71, 73]) {
        offsetHours = hours;
        statuses.push((await c.call('GET', '/v1/me')).status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 401]);
      // The refused record is gone from Redis.
      expect(await b.redis.exists(sessionName(c.cookie!, b))).toBe(0);
    } finally {
      store.now = Date.now;
    }
  });

  // item 9: the sliding TTL stored in Redis is cut at the absolute end.
  it("the record's Redis TTL never outlasts the absolute lifetime", async () => {
    const store = b.app.get(SessionStore);
    const start = Date.now();
    let offsetHours = 0;
    store.now = () => start + offsetHours * 3_600_000;
    try {
      const c = new Client(b, '10.9.3.2');
      await c.call('POST', '/v1/auth/login', { body: { email: 'busy@redis.test', password: 'busy password!' } });
      expect(await b.redis.exists(sessionName(c.cookie!, b))).toBe(1);
      offsetHours = 70;
      expect((await c.call('GET', '/v1/me')).status).toBe(200);
      const ttl = await b.redis.ttl(sessionName(c.cookie!, b));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2 * 3600);
    } finally {
      store.now = Date.now;
    }
  });
});

describe('production cookie', () => {
  let p: AccountsApp;

  beforeAll(async () => {
    p = await startAccountsApp('hostile_prod_cookie', { NODE_ENV: 'production', PUBLIC_BASE_URL: 'http://gateway.internal:3000' });
    await new Client(p).signup('prod@redis.test', 'production password');
  });

  afterAll(async () => {
    await p?.close();
  });

  // item 9: with NODE_ENV=production the cookie is __Host- prefixed and Secure (even behind an http base URL), and only that name is read.
  it('is __Host-stratum_session; Secure; Path=/ without Domain, and the plain name is not accepted', async () => {
    const login = await p.app.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ email: 'prod@redis.test', password: 'production password' }) });
    expect(login.statusCode).toBe(200);
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-stratum_session=[A-Za-z0-9_-]{43}; Max-Age=\d+; Expires=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(cookie).not.toMatch(/Domain=/i);
    const secret = /^__Host-stratum_session=([^;]+)/.exec(cookie)![1]!;
    const me = (name: string) => p.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: `${name}=${secret}` } });
    expect((await me('__Host-stratum_session')).statusCode).toBe(200);
    expect((await me('stratum_session')).statusCode).toBe(401);
    const csrf = login.json().csrf_token as string;
    const out = await p.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: { cookie: `__Host-stratum_session=${secret}`, 'x-csrf-token': csrf } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^__Host-stratum_session=; Max-Age=0; .*Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  });
});

describe('sign-up as an email oracle', () => {
  // item 10: signing up with a registered email and a wrong password answers exactly as a new sign-up.
  it('answers the same status, headers and body shape for a taken email (any password) and a free one', async () => {
    const strip = (r: Res) => {
      const { date: _d, 'x-request-id': _id, ...headers } = r.headers;
      return { status: r.status, headers, keys: Object.keys(r.json).sort(), object: r.json.object };
    };
    const taken = await new Client(a, '10.9.4.1').signupOnly('victim@redis.test', 'not the password');
    const free = await new Client(a, '10.9.4.2').signupOnly('nobody@redis.test', 'not the password');
    expect(taken.status).toBe(202);
    expect(strip(taken)).toEqual(strip(free));
    expect(taken.json).toEqual({ object: 'signup', email: 'victim@redis.test' });
    expect(taken.headers['set-cookie']).toBeUndefined();
    // And nothing changed for the victim: their password still works, the attempted one does not.
    const c = new Client(a, '10.9.4.3');
    expectProblem(await c.call('POST', '/v1/auth/login', { body: { email: 'victim@redis.test', password: 'not the password' } }), 401, 'invalid_credentials');
    expect((await c.call('POST', '/v1/auth/login', { body: { email: 'victim@redis.test', password: 'victim password' } })).status).toBe(200);
  });

  // item 10: nor does its timing (a taken email does the same writes and rolls them back).
  it('takes about as long for a taken email as for a free one', async () => {
    const time = async (email: string, ip: string) => {
      const t = performance.now();
      expect((await new Client(a, ip).signupOnly(email, 'some password!')).status).toBe(202);
      return performance.now() - t;
    };
    await time('warm-up@redis.test', '10.9.5.0');
    // The lower quartile of interleaved pairs: load from other processes only ever adds time,
    // and falls on both sides alike. A burst can still skew one round, so up to 3 rounds; the
    // answer is "the same" when one round finds the two within 20% of each other.
    const quartile = (xs: number[]) => [...xs].sort((x, y) => x - y)[2]!;
    const ratios: number[] = [];
    for (let round = 0; round < 3; round++) {
      const free: number[] = [];
      const taken: number[] = [];
      for (let i = 0; i < 12; i++) {
        free.push(await time(`free${round}-${i}@redis.test`, `10.9.5.${round * 20 + i + 1}`));
        taken.push(await time('victim@redis.test', `10.9.6.${round * 20 + i + 1}`));
      }
      ratios.push(quartile(taken) / quartile(free));
      if (ratios.at(-1)! > 0.8 && ratios.at(-1)! < 1.25) break;
    }
    // Measured: lower quartiles 15.1 (free) vs 16.9 ms (taken). Without the rolled-back writes
    // a taken email answered in 55-60% of the time (6.8 vs 12.0 ms): every round fails.
    expect({ ratios, same: ratios.some((r) => r > 0.8 && r < 1.25) }).toMatchObject({ same: true });
    expect(await a.db.prisma.user.count({ where: { email: { endsWith: '@signup.invalid' } } })).toBe(0);
  });
});

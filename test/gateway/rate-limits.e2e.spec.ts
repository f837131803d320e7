// Rate limits and the concurrency cap end to end: two gateway processes on one Postgres
// schema and one Redis prefix (no worker, so predictions stay in flight until canceled).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, uuidv7 } from '#infra/db';
import { LEASE_MS } from '#platform/rate-limits';
import { consumerCaughtUp } from '../support/lifecycle.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';
import { insertApiKey } from '../support/keys.js';

const PEPPER = 'rate-pepper-' + 'x'.repeat(32);
let db: TestDatabase;
let a: RunningApp;
let b: RunningApp;
let prefix: string;
let image: string;

async function plan(key: string, rateLimitPerMinute: number, rateLimitBurst: number, maxConcurrentPredictions = 100): Promise<string> {
  const p = await db.prisma.plan.create({ data: { id: uuidv7(), key, name: key, rateLimitPerMinute, rateLimitBurst, maxConcurrentPredictions } });
  return p.id;
}

/** An organization on `planId` and keys of it (live unless said). */
async function tenant(planId: string, keys: { mode?: 'live' | 'test'; rateLimitPerMinute?: number }[] = [{}]): Promise<{ orgId: string; secrets: string[] }> {
  const slug = `org-${randomBytes(4).toString('hex')}`;
  const org = await db.prisma.organization.create({ data: { id: uuidv7(), slug, name: slug, planId } });
  const secrets: string[] = [];
  for (const k of keys) {
    const inserted = await insertApiKey(db.prisma, PEPPER, org.id, { mode: k.mode ?? 'live' });
    if (k.rateLimitPerMinute !== undefined) await db.prisma.apiKey.update({ where: { id: inserted.id }, data: { rateLimitPerMinute: k.rateLimitPerMinute } });
    secrets.push(inserted.secret);
  }
  return { orgId: org.id, secrets };
}

async function call(app: RunningApp, path: string, key: string, init: { method?: string; body?: unknown } = {}) {
  const res = await fetch(app.url + path, {
    method: init.method ?? (init.body !== undefined ? 'POST' : 'GET'),
    headers: { authorization: `Bearer ${key}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}

/** The limiter's Redis-call counter of a gateway (its admin /metrics). */
async function redisCalls(app: RunningApp): Promise<number> {
  const text = await (await fetch(`${app.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('stratum_rate_limit_redis_calls_total'));
  if (!line) throw new Error('no stratum_rate_limit_redis_calls_total in /metrics');
  return Number(line.split(' ').at(-1));
}

beforeAll(async () => {
  db = await createTestDatabase('rate_limits');
  prefix = `rl_${randomBytes(4).toString('hex')}`;
  const env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  [a, b] = await Promise.all([startApp('gateway', env), startApp('gateway', env)]);
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 120_000);

afterAll(async () => {
  const codes = await Promise.all([a?.stop(), b?.stop()]);
  await db?.drop();
  await dropRedisPrefix(prefix);
  expect(codes).toEqual([0, 0]);
});

describe('rate limits', () => {
  it('near the limit the decision is exact across two gateways: burst 20, 60 concurrent requests split over both, exactly 20 pass', async () => {
    const { secrets } = await tenant(await plan('tight', 1, 20));
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => call(i % 2 ? a : b, '/v1/features', secrets[0]!)));
    const passed = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect({ passed: passed.length, refused: refused.length }).toEqual({ passed: 20, refused: 40 });
    for (const r of refused) {
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.json).toMatchObject({ code: 'rate_limited', limit: 'key' });
      // One request per minute: the next one is allowed in at most 60 s.
      const retry = Number(r.headers.get('retry-after'));
      expect(retry).toBeGreaterThanOrEqual(59);
      expect(retry).toBeLessThanOrEqual(60);
      expect(r.headers.get('ratelimit-policy')).toBe('"key";q=1;w=60, "organization";q=1;w=60');
      expect(r.headers.get('ratelimit')).toMatch(/^"key";r=0;t=\d+, "organization";r=0;t=\d+$/);
    }
    for (const r of passed) expect(r.headers.get('ratelimit')).toMatch(/^"key";r=\d+;t=\d+, "organization";r=\d+;t=\d+$/);
  });

  it('counts down in RateLimit and answers Retry-After from a key override', async () => {
    // The organization may send 6000 a minute; this key only 3 (one every 20 s, burst 1).
    const { secrets } = await tenant(await plan('roomy-override', 6_000, 1_000), [{ rateLimitPerMinute: 3 }]);
    const first = await call(a, '/v1/features', secrets[0]!);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"key";q=3;w=60, "organization";q=6000;w=60');
    expect(first.headers.get('ratelimit')).toBe('"key";r=0;t=20, "organization";r=999;t=1');
    const second = await call(b, '/v1/features', secrets[0]!);
    expect(second.status).toBe(429);
    expect(second.json).toMatchObject({ code: 'rate_limited', limit: 'key', status: 429 });
    // One request per 20 s: allowed again 20 s after the first (19 when the second came a second or more later).
    expect(['19', '20']).toContain(second.headers.get('retry-after'));
  });

  it('the organization bucket is shared by its keys; test mode has buckets of its own with the same limits', async () => {
    const { secrets } = await tenant(await plan('tight-org', 1, 5), [{}, {}, { mode: 'test' }]);
    const [k1, k2, testKey] = secrets as [string, string, string];
    const statuses: number[] = [];
    for (const k of [k1, k1, k1, k2, k2]) statuses.push((await call(a, '/v1/features', k)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const sixth = await call(b, '/v1/features', k2);
    expect(sixth.status).toBe(429);
    expect(sixth.json).toMatchObject({ code: 'rate_limited', limit: 'organization' });
    // The test key of the same organization is limited separately, exactly like live.
    for (let i = 0; i < 5; i++) expect((await call(b, '/v1/features', testKey)).status).toBe(200);
    expect((await call(a, '/v1/features', testKey)).json).toMatchObject({ code: 'rate_limited', limit: 'key' });
  });

  it('concurrent requests of a key with a lease share one Redis call and never take more than they use: exactly the burst passes', async () => {
    // Burst 200 at one request a minute: 50 one after the other (the lease grows), then 150 at once, then one more.
    const { secrets } = await tenant(await plan('parallel', 1, 200));
    for (let i = 0; i < 50; i++) expect((await call(a, '/v1/features', secrets[0]!)).status).toBe(200);
    const burst = await Promise.all(Array.from({ length: 150 }, () => call(a, '/v1/features', secrets[0]!)));
    expect(burst.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    const over = await call(a, '/v1/features', secrets[0]!);
    expect(over.json).toMatchObject({ code: 'rate_limited' });
  });

  it('far from the limit a key does not cost a Redis call per request (leases)', async () => {
    const { secrets } = await tenant(await plan('roomy', 600_000, 100_000));
    const before = await redisCalls(a);
    const started = Date.now();
    for (let i = 0; i < 300; i++) {
      const r = await call(a, '/v1/features', secrets[0]!);
      expect(r.status).toBe(200);
    }
    const calls = (await redisCalls(a)) - before;
    const elapsed = Date.now() - started;
    // Leases double with demand (1, 2, 4 … 256: 9 calls for 300 requests), plus at most one
    // call per lease lifetime that passed (a busy machine makes the loop slower).
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(9 + Math.ceil(elapsed / LEASE_MS));
    expect(calls).toBeLessThan(60);
  });
});

describe('the concurrency cap', () => {
  it('admits N predictions in flight, refuses the next with 429 concurrency_limited, and admits again once one finished', async () => {
    const { secrets, orgId } = await tenant(await plan('capped', 60_000, 1_000, 2));
    const key = secrets[0]!;
    const create = (app: RunningApp) => call(app, '/v1/predictions', key, { body: { feature: 'ocr-line', input: { image } } });
    const first = await create(a);
    const second = await create(b);
    expect([first.status, second.status]).toEqual([202, 202]);
    const third = await create(a);
    expect(third.status).toBe(429);
    expect(third.json).toMatchObject({ code: 'concurrency_limited', limit: 'concurrency', in_flight: 2, max_in_flight: 2 });
    expect(third.headers.get('retry-after')).toBe('1');
    expect((await create(b)).status).toBe(429);

    // One finishes (canceled): the lifecycle consumer gives its slot back.
    expect((await call(b, `/v1/predictions/${first.json.id}/cancel`, key, { method: 'POST' })).json.status).toBe('canceled');
    await consumerCaughtUp(db.prisma, 'concurrency');
    const fourth = await create(a);
    expect(fourth.status).toBe(202);
    const fifth = await create(b);
    expect(fifth.status).toBe(429);
    expect(await db.prisma.prediction.count({ where: { orgId, status: { in: ['starting', 'processing'] } } })).toBe(2);
  });
});

// Quotas through real HTTP: two gateway processes (no worker, so admitted predictions stay
// queued and hold their reservations), real Postgres and Redis. 100 parallel requests against
// a remaining quota of 10, spread over both gateways, let exactly 10 through; the rest get 429
// quota_exceeded. A cancel gives its unit back; test mode has its own counter; an overage plan
// lets everything through; a Redis wipe does not hand out a fresh quota.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { readProcessEnv } from '#infra/config';
import { repoRoot, uuidv7 } from '#infra/db';
import { writeTinyRepository } from '#tools/model-builders';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { consumerCaughtUp } from '../support/lifecycle.js';
import { insertApiKey, insertOrg } from '../support/keys.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const PEPPER = 'quota-e2e-pepper-' + 'x'.repeat(32);
const prefix = `e2e_quota_${randomBytes(4).toString('hex')}`;
let db: TestDatabase;
let gateways: RunningApp[] = [];
let redis: Redis;
let image: string;
let repo: string;
let env: Record<string, string>;

async function tenant(limit: number | null, overage: 'block' | 'allow'): Promise<{ orgId: string; live: string; test: string }> {
  const planKey = `p_${randomBytes(4).toString('hex')}`;
  await db.prisma.plan.create({ data: { id: uuidv7(), key: planKey, name: planKey, rateLimitPerMinute: 100_000, rateLimitBurst: 10_000, maxConcurrentPredictions: 10_000, monthlyQuotaUnits: limit, quotaOverage: overage } });
  const org = await insertOrg(db.prisma, `q-${randomBytes(4).toString('hex')}`, 'Quota Org', planKey);
  const live = await insertApiKey(db.prisma, PEPPER, org.id, { mode: 'live' });
  const test = await insertApiKey(db.prisma, PEPPER, org.id, { mode: 'test' });
  return { orgId: org.id, live: live.secret, test: test.secret };
}

async function predict(key: string, gateway = gateways[0]!): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${gateway.url}/v1/predictions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ feature: 'ocr-line', input: { image } }),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

beforeAll(async () => {
  db = await createTestDatabase('quota_e2e');
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
  repo = writeTinyRepository(mkdtempSync(join(tmpdir(), 'stratum-quota-repo-')), [{ name: 'tiny-classifier', versions: ['1'], config: { default_version: '1' } }]);
  env = {
    MODEL_REPOSITORY: repo,
    MODEL_STORAGE_DIR: join(repo, '.storage'),
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    QUOTA_TEST_UNITS_PER_MONTH: '3',
    OUTBOX_POLL_MS: '20',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  gateways = await Promise.all([startApp('gateway', env), startApp('gateway', env)]);
  redis = new Redis(readProcessEnv().REDIS_URL);
}, 90_000);

afterAll(async () => {
  const codes = await Promise.all(gateways.map((g) => g.stop()));
  redis?.disconnect();
  await dropRedisPrefix(prefix);
  await db?.drop();
  if (repo) rmSync(repo, { recursive: true, force: true });
  expect(codes).toEqual(gateways.map(() => 0));
});

describe('a blocking plan (limit 10)', () => {
  let t: Awaited<ReturnType<typeof tenant>>;
  let admittedIds: string[] = [];

  beforeAll(async () => {
    t = await tenant(10, 'block');
  });

  it('100 parallel requests over two gateways: exactly 10 admitted, 90 refused with 429 quota_exceeded', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, async (_, i) => ({ gateway: i % 2, ...(await predict(t.live, gateways[i % 2])) })));
    const admitted = results.filter((r) => r.status === 202);
    const refused = results.filter((r) => r.status === 429);
    expect({ admitted: admitted.length, refused: refused.length }).toEqual({ admitted: 10, refused: 90 });
    admittedIds = admitted.map((r) => r.json.id);
    // Both processes decided against the one shared counter (each refused some), and Postgres holds exactly the admitted.
    expect(new Set(refused.map((r) => r.gateway))).toEqual(new Set([0, 1]));
    expect(await db.prisma.prediction.count({ where: { orgId: t.orgId } })).toBe(10);

    const r = refused[0]!;
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.json).toMatchObject({ status: 429, code: 'quota_exceeded', limit: 10, used: 0, reserved: 10 });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(r.headers.get('ratelimit-policy')).toMatch(/"quota";q=10;w=\d+/);
    expect(r.headers.get('ratelimit')).toMatch(/"quota";r=0;t=\d+/);
    // Admitted answers count down: the last one admitted saw r=0.
    const left = admitted.map((a) => Number(/"quota";r=(\d+)/.exec(a.headers.get('ratelimit') ?? '')?.[1])).sort((a, b) => a - b);
    expect(left).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a canceled prediction gives its unit back (settled from prediction.canceled): one more is admitted, then the limit holds', async () => {
    const res = await fetch(`${gateways[1]!.url}/v1/predictions/${admittedIds[0]}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${t.live}` } });
    expect(((await res.json()) as { status: string }).status).toBe('canceled');
    await consumerCaughtUp(db.prisma, 'quota');
    expect((await predict(t.live, gateways[0])).status).toBe(202);
    expect((await predict(t.live, gateways[1])).json.code).toBe('quota_exceeded');
  });

  it('after a Redis wipe of the counters the quota is rebuilt from Postgres, not handed out afresh', async () => {
    const keys = await redis.keys(`${prefix}:quota:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    const r = await predict(t.live, gateways[1]);
    expect({ status: r.status, code: r.json.code, reserved: r.json.reserved }).toEqual({ status: 429, code: 'quota_exceeded', reserved: 10 });
  });

  it('test mode has its own quota (QUOTA_TEST_UNITS_PER_MONTH = 3) and is not blocked by the exhausted live one', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await predict(t.test, gateways[i % 2])).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
  });
});

describe('v2 infer calls', () => {
  it('reserve 1 unit each too: a plan with nothing left refuses them with 429 before anything is stored', async () => {
    const t = await tenant(0, 'block');
    const res = await fetch(`${gateways[1]!.url}/v2/models/tiny-classifier/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.live}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }),
    });
    expect(res.status).toBe(429);
    expect(((await res.json()) as { code: string }).code).toBe('quota_exceeded');
    expect(await db.prisma.prediction.count({ where: { orgId: t.orgId } })).toBe(0);
  });
});

describe('an overage plan (limit 2, overage allowed)', () => {
  it('lets predictions through past the limit, saying r=0 once the included units are gone', async () => {
    const t = await tenant(2, 'allow');
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await predict(t.live, gateways[i % 2]));
    expect(results.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    expect(results.map((r) => /"quota";r=(\d+)/.exec(r.headers.get('ratelimit') ?? '')?.[1])).toEqual(['1', '0', '0', '0', '0']);
  });

  it('an unlimited plan sends no quota headers', async () => {
    const t = await tenant(null, 'block');
    const r = await predict(t.live);
    expect(r.status).toBe(202);
    expect(r.headers.get('ratelimit-policy') ?? '').not.toContain('"quota"');
  });
});

describe('QUOTA_METERING=off', () => {
  it('admits past the limit without taking units (no counter, no quota headers); a metered gateway counts those predictions', async () => {
    const t = await tenant(1, 'block');
    const unmetered = await startApp('gateway', { ...env, QUOTA_METERING: 'off' });
    gateways.push(unmetered);
    const results = [await predict(t.live, unmetered), await predict(t.live, unmetered)];
    expect(results.map((r) => r.status)).toEqual([202, 202]);
    for (const r of results) expect(r.headers.get('ratelimit-policy') ?? '').not.toContain('"quota"');
    expect(await redis.keys(`${prefix}:quota:{${t.orgId}:*`)).toEqual([]);
    // A metered gateway still enforces the plan, and its counter (built from Postgres) counts the
    // two unmetered predictions: the one included unit is taken already.
    const metered = await predict(t.live);
    expect([metered.status, metered.json.code]).toEqual([429, 'quota_exceeded']);
    expect(metered.json.reserved + metered.json.used).toBe(2);
  });
});

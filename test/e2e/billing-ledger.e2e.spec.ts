// Billing in ledger mode through real HTTP, two gateway processes on one schema and Redis
// prefix (as behind a load balancer): a plan change made on one gateway is in force on both
// within a second (key cache TTL a minute, so only the invalidation can explain it), audited,
// announced as `plan.changed`; usage and the upcoming invoice answer, bad parameters get 422.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { uuidv7 } from '#infra/db';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertApiKey, insertOrg } from '../support/keys.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const PEPPER = 'billing-e2e-pepper-' + 'x'.repeat(32);
const prefix = `e2e_bill_${randomBytes(4).toString('hex')}`;
let db: TestDatabase;
let gateways: RunningApp[] = [];
let orgId: string;
let admin: string;
let other: string;

async function call(g: RunningApp, method: string, path: string, key: string, body?: unknown): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(g.url + path, { method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

/** The organization's per-minute rate as a gateway applies it (from the key's cached plan). */
async function orgRate(g: RunningApp): Promise<number> {
  const r = await call(g, 'GET', '/v1/features', admin);
  expect(r.status).toBe(200);
  const m = /"organization";q=(\d+)/.exec(r.headers.get('ratelimit-policy') ?? '');
  if (!m) throw new Error(`no organization policy in ${r.headers.get('ratelimit-policy')}`);
  return Number(m[1]);
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_billing');
  for (const [key, rate] of [
    ['steady', 1000],
    ['rapid', 2000],
  ] as const) {
    await db.prisma.plan.create({ data: { id: uuidv7(), key, name: key, rateLimitPerMinute: rate, rateLimitBurst: rate, monthlyQuotaUnits: 1000, unitPrice: key === 'rapid' ? '0.02' : '0' } });
  }
  orgId = (await insertOrg(db.prisma, `bill-${randomBytes(3).toString('hex')}`, 'Billing Org', 'steady')).id;
  admin = (await insertApiKey(db.prisma, PEPPER, orgId, { scopes: ['admin', 'predict'] })).secret;
  other = (await insertApiKey(db.prisma, PEPPER, (await insertOrg(db.prisma, `other-${randomBytes(3).toString('hex')}`, 'Other', 'steady')).id, { scopes: ['admin'] })).secret;
  const env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '3',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    API_KEY_CACHE_TTL_MS: '60000',
    QUOTA_PLAN_CACHE_MS: '60000',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  gateways = await Promise.all([startApp('gateway', env), startApp('gateway', env)]);
}, 90_000);

afterAll(async () => {
  const codes = await Promise.all(gateways.map((g) => g.stop()));
  await db?.drop();
  await dropRedisPrefix(prefix);
  expect(codes).toEqual(gateways.map(() => 0));
});

describe('plan change in ledger mode', () => {
  it('billing event types register on endpoints', async () => {
    const r = await call(gateways[0]!, 'POST', `/v1/orgs/${orgId}/webhook-endpoints`, admin, { url: 'https://hooks.example.test/billing', event_types: ['usage.threshold_reached', 'plan.changed'] });
    expect(r.status).toBe(201);
    expect(r.json.event_types).toEqual(['usage.threshold_reached', 'plan.changed']);
  });

  it('is in force on both gateways within a second, audited and announced', async () => {
    const [a, b] = gateways as [RunningApp, RunningApp];
    for (const g of gateways) expect(await orgRate(g)).toBe(1000); // warm in both caches

    const put = await call(a, 'PUT', `/v1/orgs/${orgId}/plan`, admin, { plan: 'rapid' });
    // The answer comes once the change is committed and announced: from then on, within a second everywhere.
    const t0 = performance.now();
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ object: 'organization_plan', key: 'rapid', changed: true, included_units: 1000, hard_limit: true, unit_price: '0.02', rate_limit_per_minute: 2000 });
    expect(Date.parse(put.json.effective_at) % 900_000).toBe(0);
    const turned = await Promise.all(
      [a, b].map(async (g) => {
        const deadline = t0 + 5_000;
        while (performance.now() < deadline) if ((await orgRate(g)) === 2000) return performance.now() - t0;
        throw new Error(`${g.url} still applies the old plan after 5 s`);
      }),
    );
    for (const ms of turned) expect(ms).toBeLessThan(1_000);

    const again = await call(b, 'PUT', `/v1/orgs/${orgId}/plan`, admin, { plan: 'rapid' });
    expect(again.json).toMatchObject({ key: 'rapid', changed: false, effective_at: null });
    expect(await db.prisma.auditLog.count({ where: { orgId, action: 'org.plan_change' } })).toBe(1);
    const messages = await db.prisma.webhookMessage.findMany({ where: { orgId, eventType: 'plan.changed' } });
    expect(messages).toHaveLength(1);
    expect(messages[0]!.payload).toMatchObject({ type: 'plan.changed', data: { organization_id: orgId, from: { key: 'steady' }, to: { key: 'rapid' } } });
  });

  it('an unknown plan is 422; another organization is 404', async () => {
    const bad = await call(gateways[0]!, 'PUT', `/v1/orgs/${orgId}/plan`, admin, { plan: 'platinum' });
    expect(bad.status).toBe(422);
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(bad.json).toMatchObject({ code: 'validation_failed', errors: [{ path: '/plan' }] });
    expect((await call(gateways[0]!, 'PUT', `/v1/orgs/${orgId}/plan`, other, { plan: 'steady' })).status).toBe(404);
  });
});

describe('usage and upcoming over HTTP', () => {
  it('answers the usage report and the upcoming invoice; bad parameters are 422 problem+json', async () => {
    const g = gateways[1]!;
    const usage = await call(g, 'GET', `/v1/orgs/${orgId}/usage?granularity=day&time_zone=Asia/Kolkata&group_by=feature,mode`, admin);
    expect(usage.status).toBe(200);
    expect(usage.json).toMatchObject({ object: 'usage', granularity: 'day', time_zone: 'Asia/Kolkata', group_by: ['feature', 'mode'], currency: 'usd', data: [], totals: { calls: 0, units: 0, amount: 0 } });
    const bad = await call(g, 'GET', `/v1/orgs/${orgId}/usage?granularity=week&time_zone=Nowhere/Land&group_by=colour`, admin);
    expect(bad.status).toBe(422);
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(bad.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/granularity', '/group_by', '/time_zone']);
    const upcoming = await call(g, 'GET', `/v1/orgs/${orgId}/billing/upcoming`, admin);
    expect(upcoming.status).toBe(200);
    expect(upcoming.json).toMatchObject({ object: 'upcoming_invoice', plan: { key: 'rapid' }, currency: 'usd', lines: [], subtotal: 0, total: 0 });
  });
});

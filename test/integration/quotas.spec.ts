// Quotas against the real Redis and Postgres: the Lua script decides as the TS decision does,
// reservations settle from the lifecycle's events (refund on failure and cancel, settle to the
// actual units, idempotent redelivery), counters are rebuilt from the ledger after a wipe, and
// 100 concurrent reservations against 10 remaining units (two services, two connections)
// admit exactly 10.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { AppConfig, parseEnv, readProcessEnv } from '#infra/config';
import { uuidv7, type PrismaClient } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { RedisClient } from '#infra/redis';
import { QuotaConsumer, QuotaService, SWEEP_GRACE_MS, decide, monthPeriod, type QuotaScope, type QuotaState } from '#platform/quotas';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { drain, testLifecycle, type TestLifecycle } from '../support/lifecycle.js';
import { insertApiKey, insertOrg } from '../support/keys.js';
import { dropRedisPrefix } from '../support/redis.js';

const prefix = `t_quotas_${randomBytes(4).toString('hex')}`;
const PEPPER = 'quota-pepper-' + 'x'.repeat(32);
let db: TestDatabase;
let t: TestLifecycle;
const clients: RedisClient[] = [];
let quotas: QuotaService;

/** Units a feature reserves in these tests: "triple" 3, everything else 1. */
const estimate = (feature: string) => (feature === 'triple' ? 3 : 1);

/** A service on its own connection, once connected (before that it answers 503 queue_unavailable, as a gateway would). */
async function service(prisma: PrismaClient, overrides: Record<string, string> = {}): Promise<QuotaService> {
  const config = new AppConfig(parseEnv({ NODE_ENV: 'test', API_KEY_PEPPER: PEPPER, REDIS_URL: readProcessEnv().REDIS_URL, REDIS_PREFIX: prefix, QUOTA_PLAN_CACHE_MS: '0', ...overrides }));
  const redis = new RedisClient(config);
  clients.push(redis);
  const q = new QuotaService(prisma, redis, config, estimate);
  if (redis.redis.status !== 'ready') {
    await expect(q.reserve({ orgId: uuidv7(), mode: 'test' }, uuidv7(), 1)).rejects.toMatchObject({ code: 'queue_unavailable' });
    await once(redis.redis, 'ready');
  }
  return q;
}

async function orgOnPlan(limit: number | null, overage: 'block' | 'allow'): Promise<{ orgId: string; keyId: string; testKeyId: string }> {
  const planKey = `p_${randomBytes(4).toString('hex')}`;
  await db.prisma.plan.create({ data: { id: uuidv7(), key: planKey, name: planKey, rateLimitPerMinute: 60, monthlyQuotaUnits: limit, quotaOverage: overage } });
  const org = await insertOrg(db.prisma, `o-${randomBytes(4).toString('hex')}`, 'Org', planKey);
  const live = await insertApiKey(db.prisma, PEPPER, org.id, { mode: 'live' });
  const test = await insertApiKey(db.prisma, PEPPER, org.id, { mode: 'test' });
  return { orgId: org.id, keyId: live.id, testKeyId: test.id };
}

/** Reserves, then stores the prediction under the reserved id (as the gateway does). */
async function admit(q: QuotaService, o: { orgId: string; keyId: string }, feature = 'single', mode: 'live' | 'test' = 'live'): Promise<string> {
  const id = uuidv7();
  await q.reserve({ orgId: o.orgId, mode }, id, estimate(feature));
  await t.lifecycle.submit({ orgId: o.orgId, apiKeyId: o.keyId, mode, priority: 10 }, { feature, featureVersion: '1', pool: 'p', models: [], spec: { kind: 'feature' }, input: {}, id }, { waitMs: null });
  return id;
}

async function succeed(orgId: string, id: string, units: number): Promise<void> {
  await t.lifecycle.start({ orgId }, id, 1, new Date());
  expect(await t.lifecycle.succeed({ orgId }, id, { output: {}, metrics: { queue_time_ms: 0, predict_time_ms: 0, total_time_ms: 0, batch_size: 1 }, models: [], units, unitType: 'image' }, new Date())).toBe(true);
}

const settleAll = () => drain(db.prisma, new QuotaConsumer(quotas), 'quota-test');
const now = (scope: QuotaScope) => quotas.current(scope, monthPeriod(new Date()));

beforeAll(async () => {
  db = await createTestDatabase('quotas');
  t = testLifecycle(db.prisma);
  quotas = await service(db.prisma);
});

afterAll(async () => {
  await dropRedisPrefix(prefix);
  for (const c of clients) c.redis.disconnect();
  await db?.drop();
});

describe('the Lua script decides as decide() does', () => {
  it('on every case of a table, for blocking and overage plans', async () => {
    const o = await orgOnPlan(10, 'block');
    const scope: QuotaScope = { orgId: o.orgId, mode: 'live' };
    const period = monthPeriod(new Date());
    const [counter] = quotas.keys(scope, period);
    const cases: [QuotaState, number][] = [
      [{ used: 0, reserved: 0 }, 1], [{ used: 9, reserved: 0 }, 1], [{ used: 5, reserved: 4 }, 1], [{ used: 5, reserved: 5 }, 1],
      [{ used: 10, reserved: 0 }, 0], [{ used: 9, reserved: 0 }, 0], [{ used: 8, reserved: 0 }, 3], [{ used: 7, reserved: 0 }, 3], [{ used: 12, reserved: 1 }, 1],
    ];
    for (const overage of ['block', 'allow'] as const) {
      await db.prisma.plan.updateMany({ where: { organizations: { some: { id: o.orgId } } }, data: { quotaOverage: overage } });
      for (const [state, n] of cases) {
        await clients[0]!.redis.hset(counter, { used: state.used, reserved: state.reserved });
        const id = uuidv7();
        const admitted = await quotas.reserve(scope, id, n).then(() => true, (e: unknown) => {
          if (e instanceof ProblemError && e.code === 'quota_exceeded') return false;
          throw e;
        });
        expect({ state, n, overage, admitted }).toEqual({ state, n, overage, admitted: decide(state, n, { limit: 10, overage }).admitted });
        await quotas.settle(scope, id, null);
      }
    }
  });
});

describe('reservations settled by the lifecycle', () => {
  it('a failed and a canceled prediction give their units back; a success settles to its actual units', async () => {
    const o = await orgOnPlan(100, 'block');
    const scope: QuotaScope = { orgId: o.orgId, mode: 'live' };
    const failed = await admit(quotas, o, 'triple');
    const canceled = await admit(quotas, o, 'triple');
    const ok = await admit(quotas, o, 'single');
    expect(await now(scope)).toEqual({ used: 0, reserved: 7 });

    await t.lifecycle.start({ orgId: o.orgId }, failed, 1, new Date());
    await t.lifecycle.fail({ orgId: o.orgId }, failed, { code: 'invalid_input', message: 'x' }, null, new Date());
    await t.lifecycle.cancel(scope, canceled, new Date());
    await succeed(o.orgId, ok, 5); // reserved 1 (its estimate), known after the call: 5
    await settleAll();
    expect(await now(scope)).toEqual({ used: 5, reserved: 0 });

    // Redelivered events (at least once) change nothing.
    const events = await db.prisma.predictionEvent.findMany({ where: { predictionId: { in: [failed, canceled, ok] } } });
    const consumer = new QuotaConsumer(quotas);
    for (const e of events) await consumer.handle({ id: e.id, type: e.type, orgId: e.orgId, predictionId: e.predictionId, data: e.data, occurredAt: e.createdAt } as never);
    expect(await now(scope)).toEqual({ used: 5, reserved: 0 });
  });

  it('a submission that never stored its row gives the reservation back; a stored one keeps it', async () => {
    const o = await orgOnPlan(100, 'block');
    const scope: QuotaScope = { orgId: o.orgId, mode: 'live' };
    const ghost = uuidv7();
    await quotas.reserve(scope, ghost, 4);
    expect(await now(scope)).toEqual({ used: 0, reserved: 4 });
    await quotas.abandon(scope, ghost);
    expect(await now(scope)).toEqual({ used: 0, reserved: 0 });
    // A stored prediction keeps its reservation: its events settle it.
    const stored = await admit(quotas, o);
    await quotas.abandon(scope, stored);
    expect(await now(scope)).toEqual({ used: 0, reserved: 1 });
  });
});

describe('plans', () => {
  it('a blocking plan refuses at the limit with 429 quota_exceeded, Retry-After and the quota headers', async () => {
    const o = await orgOnPlan(2, 'block');
    await admit(quotas, o);
    await admit(quotas, o);
    const refused = await quotas.reserve({ orgId: o.orgId, mode: 'live' }, uuidv7(), 1).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProblemError);
    const p = refused as ProblemError;
    expect({ code: p.code, status: p.status, used: p.extensions['used'], reserved: p.extensions['reserved'] }).toEqual({ code: 'quota_exceeded', status: 429, used: 0, reserved: 2 });
    expect(Number(p.headers['retry-after'])).toBeGreaterThan(0);
    expect(p.headers['ratelimit']).toMatch(/^"quota";r=0;t=\d+$/);
    expect(p.headers['ratelimit-policy']).toMatch(/^"quota";q=2;w=\d+$/);
  });

  it('an overage plan lets predictions through past the limit, and the ledger records every unit', async () => {
    const o = await orgOnPlan(2, 'allow');
    const scope: QuotaScope = { orgId: o.orgId, mode: 'live' };
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await admit(quotas, o));
    for (const id of ids) await succeed(o.orgId, id, 1);
    await settleAll();
    await t.drainUsage();
    expect(await now(scope)).toEqual({ used: 5, reserved: 0 });
    const ledger = await db.prisma.usageEvent.aggregate({ where: { orgId: o.orgId, mode: 'live' }, _sum: { units: true } });
    expect(ledger._sum.units).toBe(5); // 3 beyond the 2 included: billed as overage
  });

  it('test mode has its own counter (QUOTA_TEST_UNITS_PER_MONTH, always blocking) and never touches the live quota', async () => {
    const o = await orgOnPlan(1000, 'allow');
    const q = await service(db.prisma, { QUOTA_TEST_UNITS_PER_MONTH: '2' });
    await admit(q, { orgId: o.orgId, keyId: o.testKeyId }, 'single', 'test');
    await admit(q, { orgId: o.orgId, keyId: o.testKeyId }, 'single', 'test');
    await expect(q.reserve({ orgId: o.orgId, mode: 'test' }, uuidv7(), 1)).rejects.toMatchObject({ code: 'quota_exceeded' });
    expect(await now({ orgId: o.orgId, mode: 'live' })).toBeNull();
    expect(await now({ orgId: o.orgId, mode: 'test' })).toEqual({ used: 0, reserved: 2 });
  });
});

describe('rebuild from the ledger', () => {
  it('wiping Redis and rebuilding gives the same numbers; a reservation after a wipe rebuilds first (no fresh quota)', async () => {
    const o = await orgOnPlan(6, 'block');
    const scope: QuotaScope = { orgId: o.orgId, mode: 'live' };
    const a = await admit(quotas, o, 'triple');
    const b = await admit(quotas, o, 'single');
    await admit(quotas, o, 'single'); // stays running
    await succeed(o.orgId, a, 2);
    await succeed(o.orgId, b, 1);
    await settleAll();
    await t.drainUsage(); // a and b in the ledger
    const c = await admit(quotas, o, 'single');
    await succeed(o.orgId, c, 1); // succeeded, neither settled nor in the ledger yet
    const before = await now(scope);
    expect(before).toEqual({ used: 3, reserved: 2 });

    const period = monthPeriod(new Date());
    await clients[0]!.redis.del(...quotas.keys(scope, period));
    expect(await now(scope)).toBeNull();
    expect(await quotas.rebuild(scope, period, 'init')).toEqual({ used: 4, reserved: 1 }); // c counted from its row
    expect(await now(scope)).toEqual({ used: 4, reserved: 1 });
    await settleAll(); // c's reservation is not in the rebuilt counter: its settlement changes nothing
    await t.drainUsage();
    expect(await now(scope)).toEqual({ used: 4, reserved: 1 });

    // Flushed again: the next admission rebuilds (4 + 1 = 5 of 6) and then the limit holds.
    await clients[0]!.redis.del(...quotas.keys(scope, period));
    await admit(quotas, o, 'single');
    await expect(quotas.reserve(scope, uuidv7(), 1)).rejects.toMatchObject({ code: 'quota_exceeded' });
    expect(await now(scope)).toEqual({ used: 4, reserved: 2 });
  });
});

describe('the sweep', () => {
  it('releases reservations without a stored prediction and settles finished ones past the grace period; running ones keep theirs', async () => {
    const o = await orgOnPlan(100, 'block');
    const scope: QuotaScope = { orgId: o.orgId, mode: 'live' };
    const ghost = uuidv7();
    await quotas.reserve(scope, ghost, 2); // the gateway "died" before storing it
    await admit(quotas, o); // running
    const failed = await admit(quotas, o);
    await t.lifecycle.start({ orgId: o.orgId }, failed, 1, new Date());
    await t.lifecycle.fail({ orgId: o.orgId }, failed, { code: 'invalid_input', message: 'x' }, null, new Date());
    const ok = await admit(quotas, o, 'triple');
    await succeed(o.orgId, ok, 2); // neither event consumed yet
    expect(await now(scope)).toEqual({ used: 0, reserved: 7 });

    await quotas.sweep(Date.now()); // all within the grace period: untouched
    expect(await now(scope)).toEqual({ used: 0, reserved: 7 });
    const r = await quotas.sweep(Date.now() + SWEEP_GRACE_MS + 1_000);
    expect(r.released).toBeGreaterThanOrEqual(1);
    expect(r.settled).toBeGreaterThanOrEqual(2);
    expect(await now(scope)).toEqual({ used: 2, reserved: 1 });
    await settleAll(); // the consumer comes later: nothing counts twice
    expect(await now(scope)).toEqual({ used: 2, reserved: 1 });
  });
});

describe('concurrency', () => {
  it('100 parallel reservations against 10 remaining units, from two services on two connections, admit exactly 10', async () => {
    const o = await orgOnPlan(25, 'block');
    const scope: QuotaScope = { orgId: o.orgId, mode: 'live' };
    for (let i = 0; i < 15; i++) await admit(quotas, o); // 10 left
    const other = await service(db.prisma);
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => (i % 2 ? other : quotas).reserve(scope, uuidv7(), 1)));
    const admitted = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected' && (r.reason as ProblemError).code === 'quota_exceeded').length;
    expect({ admitted, refused }).toEqual({ admitted: 10, refused: 90 });
    expect(await now(scope)).toEqual({ used: 0, reserved: 25 });
  });
});

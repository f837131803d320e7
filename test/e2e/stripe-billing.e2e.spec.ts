// Stripe mode end to end, against real processes and a fake Stripe (the real `stripe`
// client pointed at it with STRIPE_API_BASE): every successful live call reaches Stripe as
// meter-event units exactly once — through client retries, a worker SIGKILLed mid-job, and a
// Stripe outage for a whole run. Each scenario ends with ledger units = units Stripe acknowledged.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '#infra/db';
import { seedDemo } from '../../scripts/seed.js';
import { billingTotals, expectBilledExactly, type InvoiceCheck } from '../support/billing-totals.js';
import { insertApiKey } from '../support/keys.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeStripe } from '../support/fake-stripe.js';
import { consumerCaughtUp } from '../support/lifecycle.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const PEPPER = 'stripe-e2e-pepper-'.padEnd(40, 'x');
export const WEBHOOK_SECRET = 'whsec_' + 'a'.repeat(32);

let db: TestDatabase;
let stripe: FakeStripe;
let gateway: RunningApp;
const workers: RunningApp[] = [];
let env: Record<string, string>;
let key: string;
let orgId: string;
let image: string;
let invoice: InvoiceCheck;
const INCLUDED = 5;
const UNIT_PRICE = '0.125';

beforeAll(async () => {
  db = await createTestDatabase('stripe_e2e');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER });
  key = seeded.liveKey.secret!;
  orgId = seeded.orgId;
  // A plan that lets the scenarios' units through (overage billed, never refused), with few
  // included units and a price in fractions of a cent, so the invoice's amount is rounded.
  const org = await db.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { planId: true } });
  await db.prisma.plan.update({ where: { id: org.planId }, data: { monthlyQuotaUnits: INCLUDED, quotaOverage: 'allow', unitPrice: UNIT_PRICE, featurePrices: { deleteMany: {} } } });
  const admin = (await insertApiKey(db.prisma, PEPPER, orgId, { scopes: ['admin'] })).secret;
  invoice = {
    includedUnits: INCLUDED,
    unitPrice: UNIT_PRICE,
    upcoming: async () => {
      const res = await fetch(`${gateway.url}/v1/orgs/${orgId}/billing/upcoming`, { headers: { authorization: `Bearer ${admin}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as Awaited<ReturnType<InvoiceCheck['upcoming']>>;
    },
  };
  stripe = await FakeStripe.start();
  env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: `stripe_${randomBytes(3).toString('hex')}`,
    API_KEY_PEPPER: PEPPER,
    WORKER_CONCURRENCY: '4',
    WORKER_POOLS: 'ocr',
    WORKER_LOCK_MS: '3000',
    WORKER_STALLED_CHECK_MS: '1000',
    RECOVERY_INTERVAL_MS: '300',
    RECOVERY_GRACE_MS: '500',
    STRIPE_SECRET_KEY: 'sk_test_fake',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE: stripe.url,
    STRIPE_METER_FLUSH_MS: '100',
    STRIPE_RETRY_MAX_MS: '500',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  gateway = await startApp('gateway', env);
  workers.push(await startApp('worker', env, { timeoutMs: 240_000 }));
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 360_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), ...workers.map((w) => w.stop())]);
  await stripe?.stop();
  if (env) await dropRedisPrefix(env['REDIS_PREFIX']!);
  await db?.drop();
});

async function submit(headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/predictions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ feature: 'ocr-line', input: { image } }),
  });
  const body = (await res.json()) as { id: string };
  expect([200, 201, 202]).toContain(res.status);
  return body.id;
}

async function allSucceeded(ids: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await db.prisma.prediction.count({ where: { id: { in: ids }, status: { in: ['starting', 'processing'] } } });
    if (open === 0) break;
    if (Date.now() > deadline) throw new Error(`${open} predictions unfinished`);
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(await db.prisma.prediction.count({ where: { id: { in: ids }, status: 'succeeded' } })).toBe(ids.length);
}

describe('Stripe meter events through the outbox: billed exactly once', () => {
  it('a prediction retried three times (same Idempotency-Key) and its usage redelivered bills once', async () => {
    // Stripe rate-limits the first sends (429), then recovers.
    stripe.fail(429, 3, /^\/v1\/billing\/meter_events$/);
    const idem = `retry-${randomBytes(6).toString('hex')}`;
    const ids = [await submit({ 'idempotency-key': idem })];
    for (let i = 0; i < 3; i++) ids.push(await submit({ 'idempotency-key': idem }));
    expect(new Set(ids).size).toBe(1);
    await allSucceeded([ids[0]!]);
    await consumerCaughtUp(db.prisma);
    // The lifecycle outbox redelivers (at-least-once): replay the usage consumer from the start
    // with the same outbox writer the gateway uses — nothing more is recorded or sent.
    await db.prisma.outboxConsumer.update({ where: { name: 'usage' }, data: { seq: 0n, leaseOwner: null, leaseUntil: null } });
    await consumerCaughtUp(db.prisma);
    expect(await db.prisma.usageEvent.count({ where: { id: ids[0]! } })).toBe(1);
    expect(await db.prisma.stripeMeterOutbox.count({ where: { id: ids[0]! } })).toBe(1);
    const t = await expectBilledExactly(db.prisma, stripe, orgId, invoice);
    expect(t.ledgerUnits).toBeGreaterThan(0);
    // Sent with an identifier and an idempotency key.
    const sent = stripe.meterRequests().filter((r) => r.body['identifier'] === ids[0]);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(sent.every((r) => r.idempotencyKey === `stratum-meter-${ids[0]}`)).toBe(true);
  }, 120_000);

  it('a worker SIGKILLed while running jobs: the jobs run again, each billed once', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, () => submit()));
    for (;;) {
      if ((await db.prisma.prediction.count({ where: { id: { in: ids }, status: 'succeeded' } })) > 0 && (await db.prisma.prediction.count({ where: { id: { in: ids }, status: 'processing' } })) > 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const first = workers.shift()!;
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    workers.push(await startApp('worker', env, { timeoutMs: 240_000 }));
    await allSucceeded(ids);
    await consumerCaughtUp(db.prisma);
    const usage = await db.prisma.usageEvent.count({ where: { id: { in: ids } } });
    expect(usage).toBe(ids.length);
    expect(await db.prisma.stripeMeterOutbox.count({ where: { id: { in: ids } } })).toBe(ids.length);
    await expectBilledExactly(db.prisma, stripe, orgId, invoice);
    // The killed worker's jobs ran again on the new one (started twice), still billed once.
    const starts = await db.prisma.predictionEvent.groupBy({ by: ['predictionId'], where: { predictionId: { in: ids }, type: 'prediction.started' }, _count: true });
    expect(starts.filter((s) => s._count >= 2).length).toBeGreaterThan(0);
  }, 400_000);

  it('Stripe down for a whole run, then up: every usage event reaches it exactly once', async () => {
    const before = await billingTotals(db.prisma, stripe, orgId);
    const refusedBefore = stripe.meterRequests().length;
    stripe.fail(503, Infinity, /^\/v1\/billing\/meter_events$/);
    const ids = await Promise.all(Array.from({ length: 30 }, () => submit()));
    await allSucceeded(ids);
    await consumerCaughtUp(db.prisma);
    // Every row is in the outbox, tried and refused, none acknowledged.
    const deadline = Date.now() + 20_000;
    while ((await db.prisma.stripeMeterOutbox.count({ where: { id: { in: ids }, attempts: { gte: 2 } } })) < ids.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await db.prisma.stripeMeterOutbox.count({ where: { id: { in: ids }, acknowledgedAt: null, attempts: { gte: 2 } } })).toBe(ids.length);
    expect(stripe.meterRequests().length).toBeGreaterThan(refusedBefore);
    expect(stripe.acknowledgedUnits()).toBe(before.stripeUnits);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(Number(/^stratum_stripe_outbox_pending\{[^}]*\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(ids.length);
    stripe.recover();
    const t = await expectBilledExactly(db.prisma, stripe, orgId, invoice);
    expect(t.ledgerUnits).toBeGreaterThan(before.ledgerUnits);
    // Aggregated: fewer meter events than usage events for this run.
    const identifiers = new Set((await db.prisma.stripeMeterOutbox.findMany({ where: { id: { in: ids } }, select: { batchId: true } })).map((r) => r.batchId));
    expect(identifiers.size).toBeLessThan(ids.length);
  }, 400_000);
});

// Stripe's webhooks, the billing status and reconciliation end to end: a real gateway in
// Stripe mode against a fake Stripe, events signed with the `stripe` package's own helper.
//  - a wrong signature or a stale timestamp: 400 problem+json, nothing processed;
//  - one event delivered twice at the same moment is processed once;
//  - subscription events out of order end in Stripe's current state (read again);
//  - a failed payment: past_due, then suspended after the grace period (402 org_suspended),
//    restored by the payment at once; tenant billing webhooks for each step;
//  - reconciliation: an injected quota-counter drift and usage missing from the outbox are
//    repaired, and the ledger ends equal to what Stripe acknowledged.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { repoRoot, uuidv7 } from '#infra/db';
import { seedDemo } from '../../scripts/seed.js';
import { expectBilledExactly } from '../support/billing-totals.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeStripe, signedStripeEvent } from '../support/fake-stripe.js';
import { insertApiKey, insertOrg } from '../support/keys.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const PEPPER = 'stripe-webhooks-e2e-pepper-'.padEnd(40, 'x');
const SECRET = 'whsec_' + 'b'.repeat(32);

let db: TestDatabase;
let stripe: FakeStripe;
let gateway: RunningApp;
let prefix: string;
let image: string;

beforeAll(async () => {
  db = await createTestDatabase('stripe_webhooks_e2e');
  await seedDemo({ prisma: db.prisma, pepper: PEPPER });
  stripe = await FakeStripe.start();
  prefix = `stripewh_${randomBytes(3).toString('hex')}`;
  gateway = await startApp('gateway', {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    STRIPE_SECRET_KEY: 'sk_test_fake',
    STRIPE_WEBHOOK_SECRET: SECRET,
    STRIPE_API_BASE: stripe.url,
    STRIPE_PRICE_IDS: 'pro=price_pro_metered',
    STRIPE_METER_FLUSH_MS: '100',
    STRIPE_RETRY_MAX_MS: '500',
    BILLING_GRACE_PERIOD_HOURS: '0.0005', // 1.8 s
    BILLING_SWEEP_MS: '200',
    BILLING_RECONCILE_MS: '500',
    RECOVERY_INTERVAL_MS: '60000',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  });
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 240_000);

afterAll(async () => {
  await gateway?.stop();
  await stripe?.stop();
  if (prefix) await dropRedisPrefix(prefix);
  await db?.drop();
});

/** A fresh organization with a Stripe customer, a live key and a webhook endpoint for every event. */
async function customerOrg(): Promise<{ orgId: string; customer: string; key: string }> {
  const org = await insertOrg(db.prisma, `org-${randomBytes(4).toString('hex')}`);
  const customer = `cus_${randomBytes(6).toString('hex')}`;
  await db.prisma.organization.update({ where: { id: org.id }, data: { stripeCustomerId: customer } });
  stripe.customers.set(customer, { id: customer, object: 'customer' });
  const key = await insertApiKey(db.prisma, PEPPER, org.id, { mode: 'live', scopes: ['predict'] });
  await db.prisma.webhookEndpoint.create({ data: { id: uuidv7(), orgId: org.id, url: 'https://hooks.example.test/in', eventTypes: [] } });
  return { orgId: org.id, customer, key: key.secret };
}

async function deliver(e: { payload: string; signature: string }): Promise<{ status: number; json: any; contentType: string | null }> {
  const res = await fetch(`${gateway.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': e.signature }, body: e.payload });
  return { status: res.status, json: await res.json(), contentType: res.headers.get('content-type') };
}

async function predict(key: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gateway.url}/v1/predictions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ feature: 'ocr-line', input: { image } }) });
  return { status: res.status, json: await res.json() };
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const tenantMessages = (orgId: string, eventType: string) => db.prisma.webhookMessage.count({ where: { orgId, eventType } });

describe('POST /webhooks/stripe', () => {
  it('a wrong signature or a stale timestamp: 400 invalid_signature, nothing processed', async () => {
    const { customer } = await customerOrg();
    stripe.putInvoice({ id: `in_${randomBytes(6).toString('hex')}`, customer, status: 'open', amountDue: 500 });
    const forged = signedStripeEvent('whsec_' + 'c'.repeat(32), 'invoice.payment_failed', { id: 'in_forged', object: 'invoice', customer });
    const stale = signedStripeEvent(SECRET, 'invoice.payment_failed', { id: 'in_stale', object: 'invoice', customer }, { timestamp: Math.floor(Date.now() / 1000) - 3_600 });
    const tampered = signedStripeEvent(SECRET, 'invoice.payment_failed', { id: 'in_x', object: 'invoice', customer });
    for (const e of [forged, stale, { ...tampered, payload: tampered.payload.replace('in_x', 'in_y') }, { payload: tampered.payload, signature: '' }]) {
      const r = await deliver(e);
      expect(r.status).toBe(400);
      expect(r.contentType).toMatch(/^application\/problem\+json/);
      expect(r.json.code).toBe('invalid_signature');
    }
    expect(await db.prisma.stripeWebhookEvent.count({ where: { id: { in: [forged.id, stale.id, tampered.id] } } })).toBe(0);
  });

  it('one event delivered twice at the same moment is processed once', async () => {
    const { orgId, customer } = await customerOrg();
    const invoice = stripe.putInvoice({ id: `in_${randomBytes(6).toString('hex')}`, customer, status: 'open', amountDue: 1234 });
    const e = signedStripeEvent(SECRET, 'invoice.finalized', invoice);
    const [a, b] = await Promise.all([deliver(e), deliver(e)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect([a.json.duplicate, b.json.duplicate].sort()).toEqual([false, true]);
    const row = await db.prisma.stripeWebhookEvent.findUniqueOrThrow({ where: { id: e.id } });
    expect(row.processedAt).not.toBeNull();
    // Processed once: one tenant `invoice.created` message. A later redelivery changes nothing.
    expect(await tenantMessages(orgId, 'invoice.created')).toBe(1);
    expect((await deliver(e)).json.duplicate).toBe(true);
    expect(await tenantMessages(orgId, 'invoice.created')).toBe(1);
  });

  it('subscription events out of order end in Stripe’s current state', async () => {
    const { orgId, customer } = await customerOrg();
    const sub = `sub_${randomBytes(6).toString('hex')}`;
    const created = stripe.putSubscription({ id: sub, customer, status: 'active', plan: 'pro', orgId });
    const createdEvent = signedStripeEvent(SECRET, 'customer.subscription.created', created);
    const updatedEvent = signedStripeEvent(SECRET, 'customer.subscription.updated', { ...created, status: 'active' });
    // Stripe's state moves on: the subscription is canceled.
    const canceled = stripe.putSubscription({ id: sub, customer, status: 'canceled', plan: 'pro', orgId });
    const deletedEvent = signedStripeEvent(SECRET, 'customer.subscription.deleted', canceled);
    // Delivered newest first, then the stale ones.
    for (const e of [deletedEvent, updatedEvent, createdEvent]) expect((await deliver(e)).status).toBe(200);
    const org = await db.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { stripeSubscriptionId: true, stripeSubscriptionStatus: true, plan: { select: { key: true } } } });
    expect(org).toEqual({ stripeSubscriptionId: sub, stripeSubscriptionStatus: 'canceled', plan: { key: 'free' } });
    // In order the other way (created then a current "active" state) the plan follows the subscription.
    const sub2 = `sub_${randomBytes(6).toString('hex')}`;
    const active = stripe.putSubscription({ id: sub2, customer, status: 'active', plan: 'pro', orgId });
    expect((await deliver(signedStripeEvent(SECRET, 'customer.subscription.created', active))).status).toBe(200);
    const after = await db.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { stripeSubscriptionStatus: true, plan: { select: { key: true } } } });
    expect(after).toEqual({ stripeSubscriptionStatus: 'active', plan: { key: 'pro' } });
  });

  it('a subscription changes the plan the way PUT /plan does: proration row, one plan.changed, limits on the gateway at once', async () => {
    const { orgId, customer, key } = await customerOrg();
    const policy = async () => (await fetch(`${gateway.url}/v1/features`, { headers: { authorization: `Bearer ${key}` } })).headers.get('ratelimit-policy') ?? '';
    // The key's entry is cached on the gateway with the free plan's limits.
    const before = await policy();
    expect(before).toContain('q=60;');
    const sub = stripe.putSubscription({ id: `sub_${randomBytes(6).toString('hex')}`, customer, status: 'active', plan: 'pro', orgId });
    const e = signedStripeEvent(SECRET, 'customer.subscription.updated', sub);
    expect((await deliver(e)).status).toBe(200);
    const planId = async (k: string) => (await db.prisma.plan.findUniqueOrThrow({ where: { key: k }, select: { id: true } })).id;
    const changes = await db.prisma.orgPlanChange.findMany({ where: { orgId }, select: { fromPlanId: true, toPlanId: true } });
    expect(changes).toEqual([{ fromPlanId: await planId('free'), toPlanId: await planId('pro') }]);
    expect(await tenantMessages(orgId, 'plan.changed')).toBe(1);
    // The cached entry was forgotten: the next call carries the pro plan's limits.
    const after = await until(policy, (p) => p.includes('q=600;'), 2_000);
    expect(after).toContain('q=600;');
    // A second event for the same state (Stripe sends created and updated) changes nothing more.
    expect((await deliver(signedStripeEvent(SECRET, 'customer.subscription.created', sub))).status).toBe(200);
    expect(await db.prisma.orgPlanChange.count({ where: { orgId } })).toBe(1);
    expect(await tenantMessages(orgId, 'plan.changed')).toBe(1);
  });

  it('a failed payment: past_due, suspended after the grace period (402 org_suspended), restored at once by the payment', async () => {
    const { orgId, customer, key } = await customerOrg();
    const inv = `in_${randomBytes(6).toString('hex')}`;
    const open = stripe.putInvoice({ id: inv, customer, status: 'open', amountDue: 4200 });
    expect((await predict(key)).status).toBe(202);
    expect((await deliver(signedStripeEvent(SECRET, 'invoice.payment_failed', open))).status).toBe(200);
    const pastDue = await db.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { billingStatus: true, graceUntil: true } });
    expect(pastDue.billingStatus).toBe('past_due');
    expect(pastDue.graceUntil).not.toBeNull();
    // The sweep suspends it once the grace period is over; predictions then answer 402 at once.
    const status = () => db.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { billingStatus: true } }).then((o) => o.billingStatus);
    expect(await until(status, (s) => s === 'suspended')).toBe('suspended');
    // organization.suspended is queued after every gateway was told (the key-cache invalidation).
    expect(await until(() => tenantMessages(orgId, 'organization.suspended'), (n) => n === 1)).toBe(1);
    const refused = await predict(key);
    expect(refused.status).toBe(402);
    expect(refused.json.code).toBe('org_suspended');
    expect(refused.json.detail).toMatch(/payment failed/);
    expect(Date.now()).toBeGreaterThanOrEqual(pastDue.graceUntil!.getTime());
    expect(await tenantMessages(orgId, 'invoice.payment_failed')).toBe(1);
    expect(await tenantMessages(orgId, 'organization.suspended')).toBe(1);
    // Paid: the very next prediction is accepted.
    const paid = stripe.putInvoice({ id: inv, customer, status: 'paid', amountDue: 4200 });
    expect((await deliver(signedStripeEvent(SECRET, 'invoice.paid', paid))).status).toBe(200);
    expect((await predict(key)).status).toBe(202);
    expect((await db.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { billingStatus: true } })).billingStatus).toBe('active');
    expect(await tenantMessages(orgId, 'invoice.paid')).toBe(1);
    expect(await tenantMessages(orgId, 'organization.restored')).toBe(1);
  });

  it('a payment_failed delivered after the payment suspends nothing (the invoice is read again)', async () => {
    const { orgId, customer } = await customerOrg();
    const inv = `in_${randomBytes(6).toString('hex')}`;
    const paid = stripe.putInvoice({ id: inv, customer, status: 'paid', amountDue: 100 });
    const failedEarlier = signedStripeEvent(SECRET, 'invoice.payment_failed', { ...paid, status: 'open' });
    expect((await deliver(signedStripeEvent(SECRET, 'invoice.paid', paid))).status).toBe(200);
    expect((await deliver(failedEarlier)).status).toBe(200);
    expect((await db.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { billingStatus: true } })).billingStatus).toBe('active');
  });
});

describe('checkout, portal, billing status, invoices (Stripe mode)', () => {
  it('answers Stripe-hosted URLs for the organization’s customer; checkout completion applies the subscription read back', async () => {
    const org = await insertOrg(db.prisma, `org-${randomBytes(4).toString('hex')}`);
    const admin = (await insertApiKey(db.prisma, PEPPER, org.id, { mode: 'live', scopes: ['admin'] })).secret;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${gateway.url}/v1/orgs/${org.id}${path}`, { method, headers: { authorization: `Bearer ${admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      return { status: res.status, json: (await res.json()) as any };
    };
    const checkout = await call('POST', '/billing/checkout', { plan: 'pro' });
    expect(checkout.status).toBe(200);
    expect(checkout.json.url).toMatch(/^https:\/\/checkout\.stripe\.test\//);
    const customer = (await db.prisma.organization.findUniqueOrThrow({ where: { id: org.id }, select: { stripeCustomerId: true } })).stripeCustomerId!;
    expect(customer).toMatch(/^cus_/);
    const sent = stripe.requests.filter((r) => r.path === '/v1/checkout/sessions').at(-1)!;
    expect(sent.body).toMatchObject({ mode: 'subscription', customer, client_reference_id: org.id, line_items: { '0': { price: 'price_pro_metered' } } });
    expect((await call('POST', '/billing/checkout', { plan: 'platinum' })).json.code).toBe('validation_failed');
    // The subscription decides the plan: no direct change in Stripe mode.
    const direct = await call('PUT', '/plan', { plan: 'pro' });
    expect([direct.status, direct.json.code]).toEqual([409, 'checkout_required']);
    expect(await db.prisma.orgPlanChange.count({ where: { orgId: org.id } })).toBe(0);
    const portal = await call('POST', '/billing/portal');
    expect(portal.status).toBe(200);
    expect(portal.json.url).toMatch(/^https:\/\/billing\.stripe\.test\//);
    // One customer per organization: the second call reused it.
    expect(stripe.requests.filter((r) => r.path === '/v1/customers' && r.body['metadata'] && (r.body['metadata'] as Record<string, string>)['org_id'] === org.id).length).toBe(1);
    // Checkout completed: the subscription is read back from Stripe and its plan applied.
    const sub = stripe.putSubscription({ id: `sub_${randomBytes(6).toString('hex')}`, customer, status: 'active', plan: 'pro', orgId: org.id });
    const done = signedStripeEvent(SECRET, 'checkout.session.completed', { id: 'cs_1', object: 'checkout.session', customer, client_reference_id: org.id, subscription: sub['id'] });
    expect((await deliver(done)).status).toBe(200);
    const billing = await call('GET', '/billing');
    expect(billing.json).toEqual({ object: 'billing', mode: 'stripe', status: 'active', grace_until: null, plan: { key: 'pro', name: expect.any(String) }, subscription: { id: sub['id'], status: 'active' } });
    stripe.putInvoice({ id: `in_${randomBytes(6).toString('hex')}`, customer, status: 'paid', amountDue: 990 });
    const invoices = await call('GET', '/billing/invoices');
    expect(invoices.json).toMatchObject({ object: 'list', has_more: false, data: [{ object: 'invoice', status: 'paid', amount_due: 990, currency: 'usd' }] });
  });
});

describe('reconciliation', () => {
  it('repairs an injected quota-counter drift and usage missing from the outbox; ledger = Stripe acknowledged', async () => {
    const { orgId, key } = await customerOrg();
    // The counter exists once the organization is admitted.
    expect((await predict(key)).status).toBe(202);
    // Ledger rows the outbox never got (e.g. recorded before Stripe mode): 3 events, 7 units.
    const apiKeyId = (await db.prisma.apiKey.findFirstOrThrow({ where: { orgId } })).id;
    const rows = [2, 2, 3].map((units) => ({ id: uuidv7(), orgId, apiKeyId, feature: 'ocr-line', units, unitType: 'call', mode: 'live' as const, occurredAt: new Date() }));
    await db.prisma.usageEvent.createMany({ data: rows });
    const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
    await redis.connect();
    try {
      const now = new Date();
      const period = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
      const counter = `${prefix}:quota:{${orgId}:live:${period}}`;
      expect(await redis.exists(counter)).toBe(1);
      await redis.hset(counter, 'used', '999');
      const repaired = await until(() => redis.hget(counter, 'used'), (v) => v === '7');
      expect(repaired).toBe('7');
    } finally {
      redis.disconnect();
    }
    // The same round adds the missing rows to the outbox after repairing the counters.
    const added = await until(() => db.prisma.stripeMeterOutbox.count({ where: { id: { in: rows.map((r) => r.id) } } }), (n) => n === 3);
    expect(added).toBe(3);
    await expectBilledExactly(db.prisma, stripe, orgId);
    expect(gateway.output()).toMatch(/billing drift: quota_counter=\d+/);
    expect(gateway.output()).toMatch(/outbox_missing=[1-9]/);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^stratum_billing_drift\{[^}]*kind="quota_counter"[^}]*\} \d+/m);
  });
});

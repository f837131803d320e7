// The exactness check of billing scenarios: what the ledger holds equals what Stripe
// acknowledged, to the unit. Structured as totals so other sources (e.g. the
// billing/upcoming amount) can be added to the same comparison.
import { expect } from '@jest/globals';
import type { PrismaClient } from '#infra/db';
import type { FakeStripe } from './fake-stripe.js';
import { consumerCaughtUp } from './lifecycle.js';

export interface BillingTotals {
  /** Live usage units in the ledger (UsageEvent). */
  ledgerUnits: number;
  /** Units of the meter events the fake Stripe accepted (unique identifiers). */
  stripeUnits: number;
  /** Outbox rows Stripe has not acknowledged yet. */
  pending: number;
}

export async function billingTotals(prisma: PrismaClient, stripe: FakeStripe, orgId: string): Promise<BillingTotals> {
  const ledger = await prisma.usageEvent.aggregate({ where: { orgId, mode: 'live' }, _sum: { units: true } });
  const org = await prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { stripeCustomerId: true } });
  const pending = await prisma.stripeMeterOutbox.count({ where: { orgId, acknowledgedAt: null } });
  return { ledgerUnits: ledger._sum.units ?? 0, stripeUnits: org.stripeCustomerId ? stripe.acknowledgedUnits(org.stripeCustomerId) : 0, pending };
}

/** Waits until the usage consumer and the meter outbox are drained, then compares the totals. */
export async function expectBilledExactly(prisma: PrismaClient, stripe: FakeStripe, orgId: string, timeoutMs = 30_000): Promise<BillingTotals> {
  await consumerCaughtUp(prisma, 'usage', timeoutMs);
  const deadline = Date.now() + timeoutMs;
  let t = await billingTotals(prisma, stripe, orgId);
  while (t.pending > 0 || t.stripeUnits !== t.ledgerUnits) {
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
    t = await billingTotals(prisma, stripe, orgId);
  }
  expect(t.pending).toBe(0);
  expect(t.stripeUnits).toBe(t.ledgerUnits);
  // Each acknowledged batch reached Stripe once, with exactly its rows' units.
  const batches = await prisma.stripeMeterOutbox.groupBy({ by: ['batchId'], where: { orgId }, _sum: { units: true } });
  for (const b of batches) expect(stripe.meterEvents.get(b.batchId!)?.value).toBe(b._sum.units);
  return t;
}

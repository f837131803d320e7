// The exactness check of billing scenarios: what the ledger holds equals what Stripe
// acknowledged, to the unit, and — given the gateway's `billing/upcoming` — the invoice the
// tenant sees equals what Stripe would charge for the acknowledged units, to the minor unit.
import { expect } from '@jest/globals';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type PrismaClient } from '#infra/db';
import { lineAmount } from '#platform/pricing';
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

/** How the comparison reads the tenant's invoice and how Stripe prices the meter. */
export interface InvoiceCheck {
  /** GET /v1/orgs/{org}/billing/upcoming as the tenant sees it. */
  upcoming: () => Promise<{ lines: { units: number; amount: number }[]; total: number }>;
  /** Stripe's metered price: the first `includedUnits` of the period free (a graduated tier), then `unitPrice` (decimal minor units) each. */
  includedUnits: number;
  unitPrice: string;
}

export interface ExactTotals extends BillingTotals {
  /** Present with an InvoiceCheck: the upcoming invoice's units and total, and Stripe's charge for the acknowledged units. */
  invoice?: { units: number; total: number; stripeAmount: number };
}

export async function billingTotals(prisma: PrismaClient, stripe: FakeStripe, orgId: string): Promise<BillingTotals> {
  const ledger = await prisma.usageEvent.aggregate({ where: { orgId, mode: 'live' }, _sum: { units: true } });
  const org = await prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { stripeCustomerId: true } });
  const pending = await prisma.stripeMeterOutbox.count({ where: { orgId, acknowledgedAt: null } });
  return { ledgerUnits: ledger._sum.units ?? 0, stripeUnits: org.stripeCustomerId ? stripe.acknowledgedUnits(org.stripeCustomerId) : 0, pending };
}

/** Waits until the usage consumer and the meter outbox are drained, then compares the totals. */
export async function expectBilledExactly(prisma: PrismaClient, stripe: FakeStripe, orgId: string, invoiceCheck?: InvoiceCheck, timeoutMs = 30_000): Promise<ExactTotals> {
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
  const report: Record<string, unknown> = { scenario: expect.getState().currentTestName, ledger_units: t.ledgerUnits, stripe_units: t.stripeUnits };
  // Each acknowledged batch reached Stripe once, with exactly its rows' units.
  const batches = await prisma.stripeMeterOutbox.groupBy({ by: ['batchId'], where: { orgId }, _sum: { units: true } });
  for (const b of batches) expect(stripe.meterEvents.get(b.batchId!)?.value).toBe(b._sum.units);
  if (!invoiceCheck) {
    recordTotals(report);
    return t;
  }
  // The usage consumer and the rollups commit together, so the invoice is already complete here.
  const inv = await invoiceCheck.upcoming();
  const units = inv.lines.reduce((sum, l) => sum + l.units, 0);
  const stripeAmount = lineAmount(Math.max(0, t.stripeUnits - invoiceCheck.includedUnits), invoiceCheck.unitPrice);
  expect(units).toBe(t.stripeUnits);
  expect(inv.total).toBe(inv.lines.reduce((sum, l) => sum + l.amount, 0));
  expect(inv.total).toBe(stripeAmount);
  recordTotals({ ...report, upcoming_units: units, upcoming_total_minor: inv.total, stripe_amount_minor: stripeAmount });
  return { ...t, invoice: { units, total: inv.total, stripeAmount } };
}

/** One JSON line per checked scenario in test-artifacts/billing/totals.jsonl: the exactness check's figures, to quote. */
function recordTotals(line: Record<string, unknown>): void {
  const dir = join(repoRoot(), 'test-artifacts', 'billing');
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, 'totals.jsonl'), `${JSON.stringify({ at: new Date().toISOString(), ...line })}\n`);
}

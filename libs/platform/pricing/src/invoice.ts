import { divideHalfEven, lineAmount, scaledPrice } from './money.js';
import type { BillingPeriod } from './period.js';

/** What pricing needs of a plan. */
export interface PlanPricing {
  id: string;
  key: string;
  name: string;
  currency: string;
  /** Units included per full period (the monthly quota); null (no quota) includes none. */
  includedUnits: number | null;
  /** List price of a unit (decimal string, minor units). */
  unitPrice: string;
  /** The plan's own prices of some features. */
  featurePrices: Readonly<Record<string, string>>;
}

/** A recorded plan change (OrgPlanChange). */
export interface PlanChangeRecord {
  fromPlanId: string;
  toPlanId: string;
  effectiveAt: Date;
  createdAt: Date;
}

/** A stretch of a period under one plan. */
export interface PlanSegment {
  start: Date;
  end: Date;
  planId: string;
}

/**
 * The plan whose prices apply at `at`: the target of the last change effective by then; before
 * the first change, the plan that change left; without changes, the current plan.
 */
export function planAt(at: Date, currentPlanId: string, changes: readonly PlanChangeRecord[]): string {
  const sorted = [...changes].sort((a, b) => a.effectiveAt.getTime() - b.effectiveAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime());
  let plan: string | null = null;
  for (const c of sorted) if (c.effectiveAt.getTime() <= at.getTime()) plan = c.toPlanId;
  return plan ?? sorted[0]?.fromPlanId ?? currentPlanId;
}

/** The period cut at each change's effective time, each stretch with its plan (neighbours on the same plan merged). */
export function planSegments(period: BillingPeriod, currentPlanId: string, changes: readonly PlanChangeRecord[]): PlanSegment[] {
  const cuts = [...new Set(changes.map((c) => c.effectiveAt.getTime()).filter((t) => t > period.start.getTime() && t < period.end.getTime()))].sort((a, b) => a - b);
  const bounds = [period.start.getTime(), ...cuts, period.end.getTime()];
  const out: PlanSegment[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = new Date(bounds[i]!);
    const planId = planAt(start, currentPlanId, changes);
    const last = out.at(-1);
    if (last && last.planId === planId) last.end = new Date(bounds[i + 1]!);
    else out.push({ start, end: new Date(bounds[i + 1]!), planId });
  }
  return out;
}

/** A plan's included units for a stretch of the period: included × stretch ÷ period, rounded half to even. */
export function proratedIncluded(includedUnits: number | null, segment: { start: Date; end: Date }, period: BillingPeriod): number {
  if (!includedUnits) return 0;
  const part = BigInt(segment.end.getTime() - segment.start.getTime());
  const whole = BigInt(period.end.getTime() - period.start.getTime());
  return Number(divideHalfEven(BigInt(includedUnits) * part, whole));
}

/** The price of a feature: the organization's negotiated one, else the plan's own for the feature, else the plan's list price. */
export function unitPriceOf(feature: string, plan: Pick<PlanPricing, 'unitPrice' | 'featurePrices'>, orgPrices: Readonly<Record<string, string>> = {}): string {
  return orgPrices[feature] ?? plan.featurePrices[feature] ?? plan.unitPrice;
}

export interface FeatureUsage {
  feature: string;
  unitType: string;
  units: number;
}

export interface InvoiceLine {
  feature: string;
  unit_type: string;
  units: number;
  included: number;
  billable: number;
  unit_price: string;
  amount: number;
  /** The stretch of the period (and its plan) the line prices. */
  start: string;
  end: string;
  plan: string;
}

/**
 * The line items of one stretch under one plan: its prorated included units go to the features
 * with the highest unit price first (ties: by feature name), the rest is billable at the
 * feature's price; each line's amount is rounded once, half to even.
 */
export function segmentLines(segment: PlanSegment, plan: PlanPricing, period: BillingPeriod, usage: readonly FeatureUsage[], orgPrices: Readonly<Record<string, string>> = {}): InvoiceLine[] {
  let left = proratedIncluded(plan.includedUnits, segment, period);
  const priced = usage
    .filter((u) => u.units > 0)
    .map((u) => ({ ...u, price: unitPriceOf(u.feature, plan, orgPrices) }))
    .sort((a, b) => {
      const d = scaledPrice(b.price) - scaledPrice(a.price);
      return d > 0n ? 1 : d < 0n ? -1 : a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0;
    });
  return priced.map((u) => {
    const included = Math.min(u.units, left);
    left -= included;
    const billable = u.units - included;
    return { feature: u.feature, unit_type: u.unitType, units: u.units, included, billable, unit_price: u.price, amount: lineAmount(billable, u.price), start: segment.start.toISOString(), end: segment.end.toISOString(), plan: plan.key };
  });
}

/** The sum of line amounts (each already rounded): subtotal = total (no taxes or discounts in the ledger). */
export function invoiceTotal(lines: readonly { amount: number }[]): number {
  return lines.reduce((s, l) => s + l.amount, 0);
}

import type { Prisma, PrismaClient } from '#infra/db';
import { planAt, type PlanChangeRecord, type PlanPricing } from '#platform/pricing';

type Db = PrismaClient | Prisma.TransactionClient;

/** Everything pricing needs about one organization: its plans over time and its own prices. */
export interface OrgBilling {
  orgId: string;
  currentPlanId: string;
  changes: PlanChangeRecord[];
  plans: ReadonlyMap<string, PlanPricing>;
  orgPrices: Readonly<Record<string, string>>;
}

/** The plans (with their feature prices) as pricing sees them. */
export async function loadPlans(db: Db): Promise<Map<string, PlanPricing>> {
  const plans = await db.plan.findMany({ select: { id: true, key: true, name: true, currency: true, monthlyQuotaUnits: true, unitPrice: true, featurePrices: { select: { feature: true, unitPrice: true } } } });
  return new Map(
    plans.map((p) => [p.id, { id: p.id, key: p.key, name: p.name, currency: p.currency, includedUnits: p.monthlyQuotaUnits, unitPrice: p.unitPrice, featurePrices: Object.fromEntries(p.featurePrices.map((f) => [f.feature, f.unitPrice])) }]),
  );
}

/** The billing context of some organizations (missing ones are left out). */
export async function loadOrgBilling(db: Db, orgIds: readonly string[]): Promise<Map<string, OrgBilling>> {
  if (orgIds.length === 0) return new Map();
  const [orgs, changes, prices, plans] = await Promise.all([
    db.organization.findMany({ where: { id: { in: [...orgIds] } }, select: { id: true, planId: true } }),
    db.orgPlanChange.findMany({ where: { orgId: { in: [...orgIds] } }, orderBy: [{ effectiveAt: 'asc' }, { createdAt: 'asc' }] }),
    db.orgFeaturePrice.findMany({ where: { orgId: { in: [...orgIds] } } }),
    loadPlans(db),
  ]);
  return new Map(
    orgs.map((o) => [
      o.id,
      {
        orgId: o.id,
        currentPlanId: o.planId,
        changes: changes.filter((c) => c.orgId === o.id),
        plans,
        orgPrices: Object.fromEntries(prices.filter((p) => p.orgId === o.id).map((p) => [p.feature, p.unitPrice])),
      },
    ]),
  );
}

/** The plan in force for prices at `at`. */
export function pricingAt(b: OrgBilling, at: Date): PlanPricing {
  const id = planAt(at, b.currentPlanId, b.changes);
  const plan = b.plans.get(id);
  if (!plan) throw new Error(`plan ${id} not found`);
  return plan;
}

/** The distinct effective times of the organization's plan changes, ascending (the cuts between pricing segments). */
export function changeCuts(b: OrgBilling): Date[] {
  return [...new Set(b.changes.map((c) => c.effectiveAt.getTime()))].sort((x, y) => x - y).map((t) => new Date(t));
}

/** The plan of segment `i` of the cuts (0: before the first cut). */
export function planOfSegment(b: OrgBilling, cuts: readonly Date[], i: number): PlanPricing {
  return i === 0 ? pricingAt(b, new Date((cuts[0]?.getTime() ?? Date.now()) - 1)) : pricingAt(b, cuts[i - 1]!);
}

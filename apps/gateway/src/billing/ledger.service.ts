import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppConfig } from '#infra/config';
import { ProblemError } from '#infra/errors';
import { writeAudit } from '#platform/audit';
import { PrismaClient } from '#infra/db';
import { actorId, type Actor } from '#platform/tenancy';
import { PlanChanges, type PlanChange } from '#platform/usage';

/** The body of PUT /v1/orgs/{org}/plan. */
export const changePlanBody = z.strictObject({ plan: z.string().min(1).max(40).describe('The plan key: free, pro, enterprise') });

export interface OrganizationPlanView {
  object: 'organization_plan';
  key: string;
  name: string;
  currency: string;
  included_units: number;
  hard_limit: boolean;
  unit_price: string;
  feature_prices: Record<string, string>;
  rate_limit_per_minute: number;
  max_concurrent_predictions: number;
  queue_priority: number;
  changed: boolean;
  effective_at: string | null;
}

/** Plan changes through PUT /plan (ledger-only mode): `PlanChanges` with the audit entry in the same transaction. */
@Injectable()
export class LedgerBillingService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly plans: PlanChanges,
    private readonly config: AppConfig,
  ) {}

  async changePlan(actor: Actor, planKey: string): Promise<OrganizationPlanView> {
    // In Stripe mode the subscription decides the plan (checkout to upgrade, the portal to change
    // or cancel); a direct change would bill one plan and enforce another.
    if (this.config.env.STRIPE_SECRET_KEY) throw new ProblemError('checkout_required', 'In Stripe mode plans change through the subscription: POST …/billing/checkout to upgrade, or POST …/billing/portal to change or cancel.');
    const change = await this.plans.apply(actor.orgId, planKey, (tx, c) =>
      writeAudit(tx, {
        orgId: actor.orgId,
        actorType: actor.kind,
        actorId: actorId(actor),
        ip: actor.ip,
        action: 'org.plan_change',
        targetType: 'organization',
        targetId: actor.orgId,
        changes: { before: { plan: c.from.key }, after: { plan: c.to.key, effective_at: c.effectiveAt.toISOString() } },
      }),
    );
    return this.view(actor.orgId, change);
  }

  private async view(orgId: string, change: PlanChange | null): Promise<OrganizationPlanView> {
    const org = await this.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { plan: { include: { featurePrices: true } } } });
    const p = org.plan;
    return {
      object: 'organization_plan',
      key: p.key,
      name: p.name,
      currency: p.currency,
      included_units: p.monthlyQuotaUnits ?? 0,
      hard_limit: p.monthlyQuotaUnits !== null && p.quotaOverage === 'block',
      unit_price: p.unitPrice,
      feature_prices: Object.fromEntries(p.featurePrices.map((f) => [f.feature, f.unitPrice])),
      rate_limit_per_minute: p.rateLimitPerMinute,
      max_concurrent_predictions: p.maxConcurrentPredictions,
      queue_priority: p.queuePriority,
      changed: change !== null,
      effective_at: change ? change.effectiveAt.toISOString() : null,
    };
  }
}

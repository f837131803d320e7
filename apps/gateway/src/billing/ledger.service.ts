import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { writeAudit } from '#platform/audit';
import { ApiKeyVerifier } from '#platform/api-keys';
import { PrismaClient } from '#infra/db';
import { actorId, type Actor } from '#platform/tenancy';
import { changePlan, enqueuePlanChanged, type PlanChange } from '#platform/usage';

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

/** Plan changes (ledger mode): the change, its audit entry and its `plan.changed` webhooks in one transaction, then every gateway told. */
@Injectable()
export class LedgerBillingService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  async changePlan(actor: Actor, planKey: string): Promise<OrganizationPlanView> {
    const change: PlanChange | null = await this.prisma.$transaction(async (tx) => {
      const c = await changePlan(tx, actor.orgId, planKey);
      if (!c) return null;
      await writeAudit(tx, {
        orgId: actor.orgId,
        actorType: actor.kind,
        actorId: actorId(actor),
        ip: actor.ip,
        action: 'org.plan_change',
        targetType: 'organization',
        targetId: actor.orgId,
        changes: { before: { plan: c.from.key }, after: { plan: c.to.key, effective_at: c.effectiveAt.toISOString() } },
      });
      await enqueuePlanChanged(tx, actor.orgId, c);
      return c;
    });
    if (change) {
      // The plan's limits ride in every cached key entry of the organization (rate, burst, in-flight
      // cap, queue priority, quota): forgetting those entries on every gateway applies the new plan
      // there within about a second (the same pub/sub invalidation as a key revocation).
      const keys = await this.prisma.apiKey.findMany({ where: { orgId: actor.orgId, revokedAt: null }, select: { digest: true } });
      await this.verifier.invalidateEverywhere(keys.map((k) => k.digest));
    }
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

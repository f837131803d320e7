import { Injectable } from '@nestjs/common';
import { PrismaClient } from '#infra/db';

/**
 * Injection token: how a Stripe subscription's plan is applied to the organization. The
 * default sets `Organization.planId` by plan key; the ledger branch's plan change (proration,
 * `plan.changed`, cache invalidation) can be provided here instead.
 */
export const PLAN_SYNC = Symbol('PLAN_SYNC');

export interface PlanSync {
  /** Applies `planKey` to the organization; false when there is no such plan. */
  apply(orgId: string, planKey: string): Promise<boolean>;
}

@Injectable()
export class DirectPlanSync implements PlanSync {
  constructor(private readonly db: PrismaClient) {}

  async apply(orgId: string, planKey: string): Promise<boolean> {
    const plan = await this.db.plan.findUnique({ where: { key: planKey }, select: { id: true } });
    if (!plan) return false;
    await this.db.organization.update({ where: { id: orgId }, data: { planId: plan.id } });
    return true;
  }
}

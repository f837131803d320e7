import { Injectable } from '@nestjs/common';
import { PrismaClient } from '#infra/db';
import { PlanChanges } from '#platform/usage';

/**
 * Injection token: how a Stripe subscription's plan is applied to the organization. The
 * default goes through `PlanChanges`, the same path as PUT /plan: a proration row, `plan.changed`
 * webhooks, and the organization's cached keys forgotten on every gateway.
 */
export const PLAN_SYNC = Symbol('PLAN_SYNC');

export interface PlanSync {
  /** Applies `planKey` to the organization; false when there is no such plan. */
  apply(orgId: string, planKey: string): Promise<boolean>;
}

@Injectable()
export class LedgerPlanSync implements PlanSync {
  constructor(
    private readonly db: PrismaClient,
    private readonly changes: PlanChanges,
  ) {}

  async apply(orgId: string, planKey: string): Promise<boolean> {
    // A subscription whose price names no plan here is logged by the caller, not a 422.
    const plan = await this.db.plan.findUnique({ where: { key: planKey }, select: { id: true } });
    if (!plan) return false;
    await this.changes.apply(orgId, planKey);
    return true;
  }
}

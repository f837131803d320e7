import { Injectable } from '@nestjs/common';
import { ApiKeyVerifier } from '#platform/api-keys';
import { PrismaClient, type Prisma } from '#infra/db';
import { changePlan, enqueuePlanChanged, type PlanChange } from './plan-change.js';

/**
 * The one way an organization's plan changes, whoever asks (PUT /plan in ledger mode, a Stripe
 * subscription in Stripe mode): the change and its proration row, whatever the caller records
 * with it (`within`, e.g. an audit entry) and its `plan.changed` webhooks commit in one
 * transaction; then every gateway forgets the organization's cached keys, whose entries carry
 * the plan's limits, so the new plan applies there within about a second.
 */
@Injectable()
export class PlanChanges {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  /** Null when the organization is on that plan already (nothing is written). Unknown plan: 422. */
  async apply(orgId: string, planKey: string, within?: (tx: Prisma.TransactionClient, change: PlanChange) => Promise<unknown>): Promise<PlanChange | null> {
    const change = await this.prisma.$transaction(async (tx) => {
      const c = await changePlan(tx, orgId, planKey);
      if (!c) return null;
      if (within) await within(tx, c);
      await enqueuePlanChanged(tx, orgId, c);
      return c;
    });
    if (change) {
      const keys = await this.prisma.apiKey.findMany({ where: { orgId, revokedAt: null }, select: { digest: true } });
      await this.verifier.invalidateEverywhere(keys.map((k) => k.digest));
    }
    return change;
  }
}

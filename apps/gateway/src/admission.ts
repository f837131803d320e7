import { Injectable } from '@nestjs/common';
import type { AuthenticatedKey } from '#platform/api-keys';
import { uuidv7 } from '#infra/db';
import { isTerminal, type PredictionStatus } from '#platform/predictions';
import { QuotaService, type QuotaOutcome } from '#platform/quotas';
import { ConcurrencyLimiter } from '#platform/rate-limits';
import { ProblemError } from '#infra/errors';

/**
 * Admission of a new prediction, the same for `POST /v1/predictions` and v2 infer: a slot of the
 * organization's in-flight cap (held until the prediction is final; README "Rate limits"), then
 * its units of the quota (README "Quotas"), then the submit under the id they were taken for.
 * A refusal or a failed submit gives back what was taken.
 */
@Injectable()
export class Admission {
  constructor(
    private readonly concurrency: ConcurrencyLimiter,
    private readonly quotas: QuotaService,
  ) {}

  async admit<R extends { id: string; status: PredictionStatus }>(key: AuthenticatedKey, units: number, waitMs: number, submit: (id: string) => Promise<R>): Promise<{ record: R; quota: QuotaOutcome }> {
    if (key.billingStatus === 'suspended') {
      // Stripe mode: the grace period after a failed payment ended (README "Stripe mode").
      throw new ProblemError('org_suspended', 'This organization is suspended: an invoice payment failed and its grace period has ended. Pay the open invoice (POST /v1/orgs/{org}/billing/portal gives a link); service is restored as soon as Stripe reports the payment.', {
        extensions: { billing_status: 'suspended' },
      });
    }
    const id = uuidv7();
    const scope = { orgId: key.orgId, mode: key.mode };
    const slot = await this.concurrency.acquire(key, waitMs); // 429 concurrency_limited
    let quota: QuotaOutcome;
    try {
      quota = await this.quotas.reserve(scope, id, units, { limit: key.monthlyQuotaUnits, overage: key.quotaOverage }); // 429 quota_exceeded
    } catch (e) {
      await this.concurrency.release(slot);
      throw e;
    }
    const record = await submit(id).catch(async (e: unknown) => {
      await Promise.all([this.quotas.abandon(scope, id), this.concurrency.release(slot)]);
      throw e;
    });
    await this.concurrency.settle(slot, { id: record.id, final: isTerminal(record.status), replayed: false });
    return { record, quota };
  }
}

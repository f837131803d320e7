import { Injectable } from '@nestjs/common';
import type { AuthenticatedKey } from '#platform/api-keys';
import { uuidv7 } from '#infra/db';
import { isTerminal, type PredictionStatus } from '#platform/predictions';
import { QuotaService, type QuotaOutcome } from '#platform/quotas';
import { ConcurrencyLimiter } from '#platform/rate-limits';
import { AppConfig } from '#infra/config';
import { ProblemError } from '#infra/errors';

/**
 * Admission of a new prediction, the same for `POST /v1/predictions` and v2 infer: a slot of the
 * organization's in-flight cap (held until the prediction is final; README "Rate limits") and
 * its units of the quota (README "Quotas"), taken together, then the submit under the id they
 * were taken for.
 * A refusal or a failed submit gives back what was taken.
 */
@Injectable()
export class Admission {
  constructor(
    private readonly concurrency: ConcurrencyLimiter,
    private readonly quotas: QuotaService,
    config: AppConfig,
  ) {
    this.metering = config.env.QUOTA_METERING === 'on';
  }

  private readonly metering: boolean;

  async admit<R extends { id: string; status: PredictionStatus }>(key: AuthenticatedKey, units: number, waitMs: number, submit: (id: string) => Promise<R>): Promise<{ record: R; quota: QuotaOutcome | null }> {
    if (key.billingStatus === 'suspended') {
      // Stripe mode: the grace period after a failed payment ended (README "Stripe mode").
      throw new ProblemError('org_suspended', 'This organization is suspended: an invoice payment failed and its grace period has ended. Pay the open invoice (POST /v1/orgs/{org}/billing/portal gives a link); service is restored as soon as Stripe reports the payment.', {
        extensions: { billing_status: 'suspended' },
      });
    }
    const id = uuidv7();
    const scope = { orgId: key.orgId, mode: key.mode };
    // The in-flight slot and the quota units are taken at once: two Redis script calls written
    // together share one round trip. If either is refused, what the other took is given back
    // (a concurrency refusal is reported first, as when they were taken one after the other).
    const [slotTaken, quotaTaken] = await Promise.allSettled([
      this.concurrency.acquire(key, waitMs), // 429 concurrency_limited
      // QUOTA_METERING=off: no units are taken (nor enforced); the ledger still records usage.
      this.metering ? this.quotas.reserve(scope, id, units, { limit: key.monthlyQuotaUnits, overage: key.quotaOverage }) : null, // 429 quota_exceeded
    ]);
    if (slotTaken.status === 'rejected' || quotaTaken.status === 'rejected') {
      await Promise.all([
        slotTaken.status === 'fulfilled' ? this.concurrency.release(slotTaken.value) : null,
        quotaTaken.status === 'fulfilled' && quotaTaken.value ? this.quotas.settle(scope, id, null) : null,
      ]);
      throw slotTaken.status === 'rejected' ? slotTaken.reason : (quotaTaken as PromiseRejectedResult).reason;
    }
    const slot = slotTaken.value;
    const quota = quotaTaken.value;
    const record = await submit(id).catch(async (e: unknown) => {
      await Promise.all([quota ? this.quotas.abandon(scope, id) : null, this.concurrency.release(slot)]);
      throw e;
    });
    await this.concurrency.settle(slot, { id: record.id, final: isTerminal(record.status), replayed: false });
    return { record, quota };
  }
}

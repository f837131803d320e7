import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { PrismaClient } from '#infra/db';
import { ApiKeyVerifier } from '#platform/api-keys';
import { afterPaid, afterPaymentFailed, dueForSuspension, type BillingState } from './billing-state.js';
import { TenantBillingWebhooks } from './tenant-webhooks.js';

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * An organization's billing status (Stripe mode): past_due after a failed payment, suspended
 * by the sweep when the grace period ends, active again on payment. Each change drops the
 * organization's API keys from every gateway's cache (the key-revocation invalidation), so
 * admission sees it within about a second.
 */
@Injectable()
export class BillingStatusService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Billing');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
    private readonly verifier: ApiKeyVerifier,
    private readonly tenantWebhooks: TenantBillingWebhooks,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.env.SYSTEM_JOBS !== 'on' || !this.config.env.STRIPE_SECRET_KEY) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .catch((e: unknown) => this.logger.warn(`billing sweep: ${message(e)}`))
        .finally(() => (this.running = undefined));
    }, this.config.env.BILLING_SWEEP_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async state(orgId: string): Promise<BillingState> {
    const o = await this.db.organization.findUniqueOrThrow({ where: { id: orgId }, select: { billingStatus: true, graceUntil: true } });
    return { status: o.billingStatus, graceUntil: o.graceUntil };
  }

  async paymentFailed(orgId: string, now = new Date()): Promise<BillingState> {
    const before = await this.state(orgId);
    const after = afterPaymentFailed(before, now, this.config.env.BILLING_GRACE_PERIOD_HOURS);
    if (after !== before) {
      // Guarded on the state read: a concurrent change (a payment) wins.
      await this.db.organization.updateMany({ where: { id: orgId, billingStatus: before.status }, data: { billingStatus: after.status, graceUntil: after.graceUntil } });
      this.logger.warn(`organization ${orgId}: payment failed, past_due until ${after.graceUntil?.toISOString()}`);
      if (after.graceUntil && after.graceUntil.getTime() <= now.getTime()) await this.sweep(now);
    }
    return this.state(orgId);
  }

  async paid(orgId: string): Promise<void> {
    const before = await this.state(orgId);
    if (before.status === 'active') return;
    const after = afterPaid();
    const r = await this.db.organization.updateMany({ where: { id: orgId, billingStatus: { not: 'active' } }, data: { billingStatus: after.status, graceUntil: null } });
    if (r.count === 0) return;
    this.logger.log(`organization ${orgId}: payment received, ${before.status} → active`);
    await this.announce(orgId);
    if (before.status === 'suspended') await this.tenantWebhooks.emit(orgId, 'organization.restored', `restored:${orgId}:${Date.now()}`, { organization_id: orgId, status: 'active', previous_status: 'suspended' });
  }

  /** Suspends every past_due organization whose grace period is over; returns their ids. */
  async sweep(now = new Date()): Promise<string[]> {
    const due = await this.db.organization.findMany({ where: { billingStatus: 'past_due', graceUntil: { lte: now } }, select: { id: true, billingStatus: true, graceUntil: true } });
    const suspended: string[] = [];
    for (const o of due) {
      if (!dueForSuspension({ status: o.billingStatus, graceUntil: o.graceUntil }, now)) continue;
      const r = await this.db.organization.updateMany({ where: { id: o.id, billingStatus: 'past_due', graceUntil: { lte: now } }, data: { billingStatus: 'suspended' } });
      if (r.count === 0) continue;
      suspended.push(o.id);
      this.logger.warn(`organization ${o.id}: grace period ended ${o.graceUntil?.toISOString()}, suspended`);
      await this.announce(o.id);
      await this.tenantWebhooks.emit(o.id, 'organization.suspended', `suspended:${o.id}:${o.graceUntil?.getTime()}`, { organization_id: o.id, status: 'suspended', reason: 'invoice_payment_failed', grace_until: o.graceUntil?.toISOString() ?? null });
    }
    return suspended;
  }

  /** Every gateway forgets the organization's cached keys (their entries carry the billing status). */
  private async announce(orgId: string): Promise<void> {
    const keys = await this.db.apiKey.findMany({ where: { orgId }, select: { digest: true } });
    await this.verifier.invalidateEverywhere(keys.map((k) => k.digest));
  }
}

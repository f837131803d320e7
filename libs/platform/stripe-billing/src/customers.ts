import { Inject, Injectable } from '@nestjs/common';
import { PrismaClient } from '#infra/db';
import { ProblemError } from '#infra/errors';
import type { StripeApi } from './stripe-api.js';
import { STRIPE_API } from './stripe-context.js';

/** One Stripe customer per organization (`Organization.stripeCustomerId`), created on first need. */
@Injectable()
export class StripeCustomers {
  constructor(
    private readonly db: PrismaClient,
    @Inject(STRIPE_API) private readonly api: StripeApi | null,
  ) {}

  get enabled(): boolean {
    return this.api !== null;
  }

  requireApi(): StripeApi {
    if (!this.api) throw new ProblemError('stripe_not_configured', 'Billing runs in ledger-only mode: set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET to use Stripe.');
    return this.api;
  }

  async ensure(orgId: string): Promise<string> {
    const api = this.requireApi();
    const org = await this.db.organization.findUniqueOrThrow({ where: { id: orgId }, select: { id: true, name: true, slug: true, stripeCustomerId: true } });
    if (org.stripeCustomerId) return org.stripeCustomerId;
    // Racing callers get the same customer (idempotency key per organization); the first write wins.
    const created = await api.createCustomer(org);
    await this.db.organization.updateMany({ where: { id: orgId, stripeCustomerId: null }, data: { stripeCustomerId: created } });
    const now = await this.db.organization.findUniqueOrThrow({ where: { id: orgId }, select: { stripeCustomerId: true } });
    return now.stripeCustomerId ?? created;
  }

  async orgOfCustomer(customerId: string): Promise<string | null> {
    const org = await this.db.organization.findUnique({ where: { stripeCustomerId: customerId }, select: { id: true } });
    return org?.id ?? null;
  }
}

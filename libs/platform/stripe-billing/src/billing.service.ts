import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppConfig } from '#infra/config';
import { PrismaClient } from '#infra/db';
import { ProblemError, parseBody } from '#infra/errors';
import { StripeCustomers } from './customers.js';
import type { InvoiceState } from './stripe-api.js';

export const checkoutBody = () => z.strictObject({ plan: z.string().min(1).max(64).describe('The plan to subscribe to (a key of STRIPE_PRICE_IDS, e.g. "pro")') });

export interface BillingOverview {
  object: 'billing';
  mode: 'ledger' | 'stripe';
  status: 'active' | 'past_due' | 'suspended';
  grace_until: string | null;
  plan: { key: string; name: string };
  subscription: { id: string; status: string | null } | null;
}

export interface InvoiceView {
  id: string;
  object: 'invoice';
  number: string | null;
  status: string | null;
  amount_due: number;
  amount_paid: number;
  currency: string;
  hosted_invoice_url: string | null;
  created: string;
}

const invoiceView = (i: InvoiceState): InvoiceView => ({ id: i.id, object: 'invoice', number: i.number, status: i.status, amount_due: i.amountDue, amount_paid: i.amountPaid, currency: i.currency, hosted_invoice_url: i.hostedInvoiceUrl, created: i.created.toISOString() });

/** The management side of Stripe mode: checkout and portal URLs, the billing status, invoices. */
@Injectable()
export class BillingService {
  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
    private readonly customers: StripeCustomers,
  ) {}

  get mode(): 'ledger' | 'stripe' {
    return this.customers.enabled ? 'stripe' : 'ledger';
  }

  async checkout(orgId: string, body: unknown): Promise<{ url: string }> {
    const api = this.customers.requireApi();
    const { plan } = parseBody(checkoutBody(), body);
    const priceId = this.config.env.STRIPE_PRICE_IDS[plan];
    if (!priceId) throw new ProblemError('validation_failed', `No Stripe price is configured for plan "${plan}".`, { extensions: { errors: [{ in: 'body', path: '/plan', message: `one of: ${Object.keys(this.config.env.STRIPE_PRICE_IDS).join(', ') || '(none configured)'}` }] } });
    const customerId = await this.customers.ensure(orgId);
    return { url: await api.createCheckoutSession({ customerId, priceId, orgId, plan, returnUrl: this.config.env.STRIPE_RETURN_URL }) };
  }

  async portal(orgId: string): Promise<{ url: string }> {
    const api = this.customers.requireApi();
    const customerId = await this.customers.ensure(orgId);
    return { url: await api.createPortalSession({ customerId, returnUrl: this.config.env.STRIPE_RETURN_URL }) };
  }

  async overview(orgId: string): Promise<BillingOverview> {
    const o = await this.db.organization.findUniqueOrThrow({ where: { id: orgId }, select: { billingStatus: true, graceUntil: true, stripeSubscriptionId: true, stripeSubscriptionStatus: true, plan: { select: { key: true, name: true } } } });
    return {
      object: 'billing',
      mode: this.mode,
      status: o.billingStatus,
      grace_until: o.graceUntil?.toISOString() ?? null,
      plan: o.plan,
      subscription: o.stripeSubscriptionId ? { id: o.stripeSubscriptionId, status: o.stripeSubscriptionStatus } : null,
    };
  }

  /** Stripe's invoices of the organization's customer, newest first (empty in ledger mode or before the first customer). */
  async invoices(orgId: string, limit: number, startingAfter?: string): Promise<{ object: 'list'; data: InvoiceView[]; has_more: boolean; next_cursor: string | null }> {
    const o = await this.db.organization.findUniqueOrThrow({ where: { id: orgId }, select: { stripeCustomerId: true } });
    if (!this.customers.enabled || !o.stripeCustomerId) return { object: 'list', data: [], has_more: false, next_cursor: null };
    const page = await this.customers.requireApi().listInvoices(o.stripeCustomerId, limit, startingAfter);
    const data = page.data.map(invoiceView);
    return { object: 'list', data, has_more: page.hasMore, next_cursor: page.hasMore ? (data.at(-1)?.id ?? null) : null };
  }
}

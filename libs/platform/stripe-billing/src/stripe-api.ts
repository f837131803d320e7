// The one place that talks to Stripe: the official client behind a small repository
// interface, so services (and tests) depend on what Stratum needs, not on Stripe's surface.
import Stripe from 'stripe';
import type { Env } from '#infra/config';

export interface MeterEventInput {
  eventName: string;
  customerId: string;
  value: number;
  /** Stripe dedupes meter events by identifier; also used as the idempotency key. */
  identifier: string;
  timestamp: Date;
}

export interface SubscriptionState {
  id: string;
  customerId: string;
  status: string;
  /** Stratum's plan key, from the subscription's metadata (set at checkout). */
  plan: string | null;
  orgId: string | null;
}

export interface InvoiceState {
  id: string;
  customerId: string;
  status: string | null;
  amountDue: number;
  amountPaid: number;
  currency: string;
  number: string | null;
  hostedInvoiceUrl: string | null;
  created: Date;
}

export interface StripeApi {
  createCustomer(org: { id: string; name: string; slug: string }): Promise<string>;
  sendMeterEvent(e: MeterEventInput): Promise<void>;
  createCheckoutSession(p: { customerId: string; priceId: string; orgId: string; plan: string; returnUrl: string }): Promise<string>;
  createPortalSession(p: { customerId: string; returnUrl: string }): Promise<string>;
  retrieveSubscription(id: string): Promise<SubscriptionState>;
  retrieveInvoice(id: string): Promise<InvoiceState>;
  listInvoices(customerId: string, limit: number, startingAfter?: string): Promise<{ data: InvoiceState[]; hasMore: boolean }>;
  /** Verifies the signature over the raw body (throws on a wrong signature or a stale timestamp). */
  constructEvent(rawBody: Buffer, signature: string): Stripe.Event;
}

/** An error from Stripe that retrying the same request can never fix (4xx other than 409/429). */
export function isPermanent(e: unknown): boolean {
  if (!(e instanceof Stripe.errors.StripeError)) return false;
  const status = e.statusCode ?? 0;
  return status >= 400 && status < 500 && status !== 409 && status !== 429;
}

/** Stripe says the meter event identifier was already used: the usage is there already. */
export function isDuplicateIdentifier(e: unknown): boolean {
  return e instanceof Stripe.errors.StripeError && (e.code === 'resource_already_exists' || /identifier/i.test(e.message) && /already|duplicate/i.test(e.message));
}

const idOf = (v: string | { id: string } | null | undefined): string => (typeof v === 'string' ? v : (v?.id ?? ''));

function invoiceState(i: Stripe.Invoice): InvoiceState {
  return {
    id: i.id ?? '',
    customerId: idOf(i.customer),
    status: i.status ?? null,
    amountDue: i.amount_due,
    amountPaid: i.amount_paid,
    currency: i.currency,
    number: i.number ?? null,
    hostedInvoiceUrl: i.hosted_invoice_url ?? null,
    created: new Date(i.created * 1000),
  };
}

/** The client options: STRIPE_API_BASE points every request (the meter-event host too) at another server. */
export function stripeConfig(env: Pick<Env, 'STRIPE_API_BASE'>): Stripe.StripeConfig {
  const config: Stripe.StripeConfig = { maxNetworkRetries: 1, timeout: 20_000, appInfo: { name: 'stratum' } };
  if (env.STRIPE_API_BASE) {
    const u = new URL(env.STRIPE_API_BASE);
    config.host = u.hostname;
    config.port = u.port || (u.protocol === 'http:' ? 80 : 443);
    config.protocol = u.protocol === 'http:' ? 'http' : 'https';
  }
  return config;
}

export class OfficialStripeApi implements StripeApi {
  private readonly stripe: Stripe;

  constructor(
    secretKey: string,
    private readonly webhookSecret: string,
    private readonly toleranceSeconds: number,
    config: Stripe.StripeConfig,
  ) {
    this.stripe = new Stripe(secretKey, config);
  }

  async createCustomer(org: { id: string; name: string; slug: string }): Promise<string> {
    // The idempotency key makes two racing gateways get the same customer.
    const c = await this.stripe.customers.create({ name: org.name, metadata: { org_id: org.id, org_slug: org.slug } }, { idempotencyKey: `stratum-customer-${org.id}` });
    return c.id;
  }

  async sendMeterEvent(e: MeterEventInput): Promise<void> {
    await this.stripe.billing.meterEvents.create(
      { event_name: e.eventName, identifier: e.identifier, timestamp: Math.floor(e.timestamp.getTime() / 1000), payload: { stripe_customer_id: e.customerId, value: String(e.value) } },
      { idempotencyKey: `stratum-meter-${e.identifier}` },
    );
  }

  async createCheckoutSession(p: { customerId: string; priceId: string; orgId: string; plan: string; returnUrl: string }): Promise<string> {
    const s = await this.stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: p.customerId,
      client_reference_id: p.orgId,
      line_items: [{ price: p.priceId }],
      subscription_data: { metadata: { org_id: p.orgId, plan: p.plan } },
      metadata: { org_id: p.orgId, plan: p.plan },
      success_url: p.returnUrl,
      cancel_url: p.returnUrl,
    });
    return s.url ?? '';
  }

  async createPortalSession(p: { customerId: string; returnUrl: string }): Promise<string> {
    const s = await this.stripe.billingPortal.sessions.create({ customer: p.customerId, return_url: p.returnUrl });
    return s.url;
  }

  async retrieveSubscription(id: string): Promise<SubscriptionState> {
    const s = await this.stripe.subscriptions.retrieve(id);
    return { id: s.id, customerId: idOf(s.customer), status: s.status, plan: s.metadata?.['plan'] ?? null, orgId: s.metadata?.['org_id'] ?? null };
  }

  async retrieveInvoice(id: string): Promise<InvoiceState> {
    return invoiceState(await this.stripe.invoices.retrieve(id));
  }

  async listInvoices(customerId: string, limit: number, startingAfter?: string): Promise<{ data: InvoiceState[]; hasMore: boolean }> {
    const page = await this.stripe.invoices.list({ customer: customerId, limit, ...(startingAfter ? { starting_after: startingAfter } : {}) });
    return { data: page.data.map(invoiceState), hasMore: page.has_more };
  }

  constructEvent(rawBody: Buffer, signature: string): Stripe.Event {
    return this.stripe.webhooks.constructEvent(rawBody, signature, this.webhookSecret, this.toleranceSeconds);
  }
}

export type { Stripe };

import { Inject, Injectable, Logger } from '@nestjs/common';
import { PrismaClient, Prisma } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { BillingStatusService } from './billing-status.service.js';
import { StripeCustomers } from './customers.js';
import { PLAN_SYNC, type PlanSync } from './plan-sync.js';
import type { InvoiceState, Stripe, StripeApi, SubscriptionState } from './stripe-api.js';
import { STRIPE_API } from './stripe-context.js';
import { TenantBillingWebhooks } from './tenant-webhooks.js';

/** The Stripe events Stratum acts on (the README lists them for the dashboard/CLI). */
export const HANDLED_STRIPE_EVENTS = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_failed',
] as const;

/** A claim older than this without being processed is taken to be from a receiver that died. */
const STALE_CLAIM_MS = 5 * 60_000;

export interface WebhookOutcome {
  id: string;
  type: string;
  duplicate: boolean;
}

const idOf = (v: unknown): string | null => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string' ? (v as { id: string }).id : null);

function invoiceData(i: InvoiceState): Record<string, unknown> {
  return { id: i.id, number: i.number, status: i.status, amount_due: i.amountDue, amount_paid: i.amountPaid, currency: i.currency, hosted_invoice_url: i.hostedInvoiceUrl, created: i.created.toISOString() };
}

/**
 * Receives Stripe's webhooks: the signature is checked on the raw body, each event id is
 * claimed by a unique row before it is processed (a concurrent second delivery finds the row
 * and is acknowledged without processing; a failed processing removes the claim so Stripe's
 * retry runs it), and state that depends on order is read again from Stripe.
 */
@Injectable()
export class StripeWebhooks {
  private readonly logger = new Logger('StripeWebhooks');

  constructor(
    private readonly db: PrismaClient,
    @Inject(STRIPE_API) private readonly api: StripeApi | null,
    private readonly customers: StripeCustomers,
    private readonly status: BillingStatusService,
    private readonly tenantWebhooks: TenantBillingWebhooks,
    @Inject(PLAN_SYNC) private readonly plans: PlanSync,
  ) {}

  async receive(rawBody: Buffer | undefined, signature: string | undefined): Promise<WebhookOutcome> {
    const api = this.customers.requireApi();
    if (!rawBody || !signature) throw new ProblemError('invalid_signature', 'A Stripe webhook needs its raw body and the Stripe-Signature header.');
    let event: Stripe.Event;
    try {
      event = api.constructEvent(rawBody, signature);
    } catch (e) {
      throw new ProblemError('invalid_signature', 'The Stripe-Signature does not match the body, or its timestamp is too old.', { cause: e });
    }
    if (!(await this.claim(event))) return { id: event.id, type: event.type, duplicate: true };
    try {
      await this.process(event);
      await this.db.stripeWebhookEvent.update({ where: { id: event.id }, data: { processedAt: new Date() } });
    } catch (e) {
      await this.db.stripeWebhookEvent.deleteMany({ where: { id: event.id, processedAt: null } });
      throw e;
    }
    return { id: event.id, type: event.type, duplicate: false };
  }

  /** True when this delivery owns the event (first delivery, or a dead receiver's stale claim). */
  private async claim(event: Stripe.Event): Promise<boolean> {
    try {
      await this.db.stripeWebhookEvent.create({ data: { id: event.id, type: event.type } });
      return true;
    } catch (e) {
      if (!(e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002')) throw e;
    }
    const stale = await this.db.stripeWebhookEvent.updateMany({ where: { id: event.id, processedAt: null, receivedAt: { lt: new Date(Date.now() - STALE_CLAIM_MS) } }, data: { receivedAt: new Date() } });
    return stale.count === 1;
  }

  private async process(event: Stripe.Event): Promise<void> {
    const obj = event.data.object as unknown as Record<string, unknown>;
    switch (event.type) {
      case 'checkout.session.completed': {
        const orgId = (typeof obj['client_reference_id'] === 'string' ? obj['client_reference_id'] : null) ?? ((obj['metadata'] as Record<string, string> | undefined)?.['org_id'] ?? null);
        const customerId = idOf(obj['customer']);
        if (orgId && customerId) await this.db.organization.updateMany({ where: { id: orgId, stripeCustomerId: null }, data: { stripeCustomerId: customerId } });
        const subscriptionId = idOf(obj['subscription']);
        if (subscriptionId) await this.syncSubscription(subscriptionId);
        return;
      }
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted': {
        const id = idOf(obj);
        if (id) await this.syncSubscription(id);
        return;
      }
      case 'invoice.finalized':
      case 'invoice.paid':
      case 'invoice.payment_failed': {
        const id = idOf(obj);
        if (id) await this.syncInvoice(event, id);
        return;
      }
      default:
        this.logger.debug(`ignored Stripe event ${event.type} ${event.id}`);
    }
  }

  /** The subscription as Stripe holds it NOW (events may arrive in any order). */
  private async syncSubscription(id: string): Promise<void> {
    const s: SubscriptionState = await this.api!.retrieveSubscription(id);
    const orgId = (await this.customers.orgOfCustomer(s.customerId)) ?? s.orgId;
    if (!orgId) {
      this.logger.warn(`subscription ${id}: no organization for customer ${s.customerId}`);
      return;
    }
    const current = await this.db.organization.findUnique({ where: { id: orgId }, select: { stripeSubscriptionId: true } });
    if (!current) return;
    // A canceled subscription that is not the organization's current one changes nothing.
    if (s.status === 'canceled' && current.stripeSubscriptionId && current.stripeSubscriptionId !== s.id) return;
    await this.db.organization.update({ where: { id: orgId }, data: { stripeSubscriptionId: s.id, stripeSubscriptionStatus: s.status } });
    const live = ['active', 'trialing', 'past_due'].includes(s.status);
    if (live && s.plan && !(await this.plans.apply(orgId, s.plan))) this.logger.warn(`subscription ${id}: plan "${s.plan}" is not a plan here; the organization keeps its plan`);
    if (s.status === 'canceled' || s.status === 'incomplete_expired') await this.plans.apply(orgId, 'free');
  }

  private async syncInvoice(event: Stripe.Event, id: string): Promise<void> {
    const inv = await this.api!.retrieveInvoice(id);
    const orgId = await this.customers.orgOfCustomer(inv.customerId);
    if (!orgId) {
      this.logger.warn(`invoice ${id}: no organization for customer ${inv.customerId}`);
      return;
    }
    const data = invoiceData(inv);
    switch (event.type) {
      case 'invoice.finalized':
        await this.tenantWebhooks.emit(orgId, 'invoice.created', `stripe:${event.id}`, data);
        return;
      case 'invoice.paid':
        if (inv.status === 'paid') await this.status.paid(orgId);
        await this.tenantWebhooks.emit(orgId, 'invoice.paid', `stripe:${event.id}`, data);
        return;
      case 'invoice.payment_failed':
        // Read back: an invoice paid meanwhile (invoice.paid delivered first) suspends nothing.
        if (inv.status === 'open' || inv.status === 'uncollectible') await this.status.paymentFailed(orgId);
        await this.tenantWebhooks.emit(orgId, 'invoice.payment_failed', `stripe:${event.id}`, data);
        return;
    }
  }
}

// Pure rules of an organization's billing status (Stripe mode).
export type BillingStatus = 'active' | 'past_due' | 'suspended';

export interface BillingState {
  status: BillingStatus;
  graceUntil: Date | null;
}

/**
 * A payment failed: an active organization becomes past_due with a grace period (service
 * continues until `graceUntil`); a past_due one keeps its first deadline (repeated failures
 * never extend it); a suspended one stays suspended.
 */
export function afterPaymentFailed(s: BillingState, now: Date, graceHours: number): BillingState {
  if (s.status === 'suspended') return s;
  if (s.status === 'past_due' && s.graceUntil) return s;
  return { status: 'past_due', graceUntil: new Date(now.getTime() + graceHours * 3_600_000) };
}

/** A payment went through: service is restored at once. */
export function afterPaid(): BillingState {
  return { status: 'active', graceUntil: null };
}

/** The sweep: a past_due organization whose grace period is over is suspended. */
export function dueForSuspension(s: BillingState, now: Date): boolean {
  return s.status === 'past_due' && s.graceUntil !== null && s.graceUntil.getTime() <= now.getTime();
}

/** Tenant webhook event types the Stripe side emits (via #platform/webhooks' engine). */
export type StripeTenantEventType = 'invoice.created' | 'invoice.paid' | 'invoice.payment_failed' | 'organization.suspended' | 'organization.restored';

import { LIFECYCLE_EVENT_TYPES, type LifecycleEvent, type LifecycleEventType, type PredictionView } from '#platform/predictions';

/** The filter names a prediction's own webhook accepts (Replicate's `webhook_events_filter`). */
export const PREDICTION_WEBHOOK_FILTERS = ['start', 'output', 'logs', 'completed'] as const;
export type PredictionWebhookFilter = (typeof PREDICTION_WEBHOOK_FILTERS)[number];

/** Billing events from the ledger (#platform/usage sends them). */
export const BILLING_WEBHOOK_EVENT_TYPES = ['usage.threshold_reached', 'plan.changed'] as const;

/** Billing events from Stripe mode (#platform/stripe-billing emits them through this engine). */
export const STRIPE_BILLING_WEBHOOK_EVENT_TYPES = ['invoice.created', 'invoice.paid', 'invoice.payment_failed', 'organization.suspended', 'organization.restored'] as const;

/** The event types an organization's endpoint may subscribe to. */
export const WEBHOOK_EVENT_TYPES: readonly string[] = [...LIFECYCLE_EVENT_TYPES, ...BILLING_WEBHOOK_EVENT_TYPES, ...STRIPE_BILLING_WEBHOOK_EVENT_TYPES];

/**
 * Which filter names a lifecycle event answers to: `start` when the prediction starts running;
 * `output` and `completed` when it succeeds (its output arrives whole, at the end); `completed`
 * when it fails or is canceled. `logs` never fires (predictions write no logs), and
 * `prediction.created` is for endpoints only (Replicate sends nothing at creation either).
 */
export function filtersOf(type: LifecycleEventType): readonly PredictionWebhookFilter[] {
  switch (type) {
    case 'prediction.started':
      return ['start'];
    case 'prediction.succeeded':
      return ['output', 'completed'];
    case 'prediction.failed':
    case 'prediction.canceled':
      return ['completed'];
    case 'prediction.created':
      return [];
  }
}

/**
 * Whether a prediction's own webhook gets this event: an empty filter means every event (as in
 * Replicate). One message per lifecycle event at most, so a success asked for with both
 * `output` and `completed` sends one webhook.
 */
export function predictionWebhookWants(filter: readonly string[], type: LifecycleEventType): boolean {
  const fires = filtersOf(type);
  if (fires.length === 0) return false;
  return filter.length === 0 || fires.some((f) => filter.includes(f));
}

/** Whether an endpoint subscribed to `eventTypes` (empty: all) gets `type`. */
export function endpointWants(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.length === 0 || eventTypes.includes(type);
}

/** The Standard Webhooks payload: `{type, timestamp, data}` with the prediction as it stood when the event was consumed. */
export interface PredictionWebhookPayload {
  type: LifecycleEventType;
  timestamp: string;
  data: PredictionView;
}

export function predictionPayload(event: LifecycleEvent, view: PredictionView): PredictionWebhookPayload {
  return { type: event.type, timestamp: event.occurredAt.toISOString(), data: view };
}

export { OfficialStripeApi, stripeConfig, isPermanent, isDuplicateIdentifier, type StripeApi, type MeterEventInput, type SubscriptionState, type InvoiceState } from './stripe-api.js';
export { STRIPE_API, stripeApiFactory } from './stripe-context.js';
export { batchIdOf, planBatches, backoffMs, type PendingUsage, type PlannedBatch } from './meter-batches.js';
export { StripeCustomers } from './customers.js';
export { MeterOutbox, type FlushReport } from './meter-outbox.js';
export { StripeBillingModule } from './stripe-billing.module.js';

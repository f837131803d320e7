import { Module } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { USAGE_OUTBOX } from '#platform/metering';
import { PlanChanges } from '#platform/usage';
import { BillingStatusService } from './billing-status.service.js';
import { BillingService } from './billing.service.js';
import { StripeCustomers } from './customers.js';
import { MeterOutbox } from './meter-outbox.js';
import { LedgerPlanSync, PLAN_SYNC } from './plan-sync.js';
import { STRIPE_API, stripeApiFactory } from './stripe-context.js';
import { StripeWebhooks } from './stripe-webhooks.js';
import { TenantBillingWebhooks } from './tenant-webhooks.js';

/**
 * Stripe mode (STRIPE_SECRET_KEY set): the client, the customers, the meter outbox (also
 * provided as the usage consumer's USAGE_OUTBOX), Stripe's webhooks, the billing status and its
 * sweep (Reconciliation is provided by the app, next to its QuotaService). In ledger-only mode STRIPE_API and USAGE_OUTBOX are null: nothing is
 * written for Stripe and nothing is sent.
 */
@Module({
  providers: [
    { provide: STRIPE_API, useFactory: stripeApiFactory, inject: [AppConfig] },
    StripeCustomers,
    MeterOutbox,
    { provide: USAGE_OUTBOX, useFactory: (config: AppConfig, outbox: MeterOutbox) => (config.env.STRIPE_SECRET_KEY ? outbox : null), inject: [AppConfig, MeterOutbox] },
    PlanChanges,
    { provide: PLAN_SYNC, useClass: LedgerPlanSync },
    TenantBillingWebhooks,
    BillingStatusService,
    StripeWebhooks,
    BillingService,
  ],
  exports: [PlanChanges, STRIPE_API, StripeCustomers, MeterOutbox, USAGE_OUTBOX, BillingStatusService, StripeWebhooks, BillingService],
})
export class StripeBillingModule {}

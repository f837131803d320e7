import { describe, expect, it } from '@jest/globals';
import { parseEnv, type AppConfig } from '#infra/config';
import { isProblemError } from '#infra/errors';
import { BillingService } from './billing.service.js';
import { StripeCustomers } from './customers.js';
import { stripeApiFactory } from './stripe-context.js';

const config = (vars: Record<string, string>) => ({ env: parseEnv({ NODE_ENV: 'test', ...vars }) }) as unknown as AppConfig;

describe('ledger-only mode (no STRIPE_SECRET_KEY, the default)', () => {
  it('builds no Stripe client; checkout and portal answer 409 stripe_not_configured without touching the database', async () => {
    const cfg = config({});
    expect(stripeApiFactory(cfg)).toBeNull();
    const db = new Proxy({}, { get: () => { throw new Error('no database access expected'); } });
    const billing = new BillingService(db as never, cfg, new StripeCustomers(db as never, null));
    expect(billing.mode).toBe('ledger');
    for (const call of [() => billing.checkout('org', { plan: 'pro' }), () => billing.portal('org')]) {
      const e = await call().catch((x: unknown) => x);
      expect(isProblemError(e) && e.code).toBe('stripe_not_configured');
    }
  });

  it('Stripe mode needs the webhook secret too, and points the client at STRIPE_API_BASE', () => {
    expect(() => parseEnv({ NODE_ENV: 'test', STRIPE_SECRET_KEY: 'sk_test_x' })).toThrow(/STRIPE_WEBHOOK_SECRET/);
    const cfg = config({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_WEBHOOK_SECRET: 'whsec_x', STRIPE_API_BASE: 'http://127.0.0.1:12111', STRIPE_PRICE_IDS: 'pro=price_1,enterprise=price_2' });
    expect(stripeApiFactory(cfg)).not.toBeNull();
    expect(cfg.env.STRIPE_PRICE_IDS).toEqual({ pro: 'price_1', enterprise: 'price_2' });
  });
});

import { AppConfig } from '#infra/config';
import { OfficialStripeApi, stripeConfig, type StripeApi } from './stripe-api.js';

/** Injection token: the StripeApi, or null in ledger-only mode (no STRIPE_SECRET_KEY). */
export const STRIPE_API = Symbol('STRIPE_API');

export function stripeApiFactory(config: AppConfig): StripeApi | null {
  const env = config.env;
  if (!env.STRIPE_SECRET_KEY || !env.STRIPE_WEBHOOK_SECRET) return null;
  return new OfficialStripeApi(env.STRIPE_SECRET_KEY, env.STRIPE_WEBHOOK_SECRET, env.STRIPE_WEBHOOK_TOLERANCE_SECONDS, stripeConfig(env));
}

import type { FastifyReply } from 'fastify';
import { estimateUnits, type FeatureCatalogue } from '#feature-engine/feature-catalogue';
import { quotaHeaders, type QuotaEstimator, type QuotaOutcome } from '#platform/quotas';

/**
 * Adds the "quota" policy to the RateLimit-Policy / RateLimit fields, after any policy already
 * there (the rate limits' own): structured-field lists, so the members are joined with ", ".
 * Nothing without an outcome (QUOTA_METERING=off).
 */
export function appendQuotaHeaders(reply: FastifyReply, outcome: QuotaOutcome | null): void {
  if (!outcome) return; // QUOTA_METERING=off
  for (const [name, value] of Object.entries(quotaHeaders(outcome))) {
    const prev = reply.getHeader(name);
    void reply.header(name, prev === undefined || prev === '' ? value : `${String(prev)}, ${value}`);
  }
}

/**
 * Units a prediction reserves: its feature's fixed unit count, or for units counted from the call
 * (lines, characters, seconds) the price's minimum or 1 (the reservation is settled with the real
 * count); 1 for a v2 model call or a feature no longer in the catalogue.
 */
export function featureUnitEstimate(features: FeatureCatalogue): QuotaEstimator {
  return (feature, version) => {
    const def = features.find(feature, version);
    return def ? estimateUnits(def.price) : 1;
  };
}

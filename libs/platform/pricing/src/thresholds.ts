/** The shares of the included units at which `usage.threshold_reached` fires (once each per period). */
export const USAGE_THRESHOLDS = [50, 80, 100] as const;
export type UsageThreshold = (typeof USAGE_THRESHOLDS)[number];

/** The thresholds `units` has reached of `included` (none when nothing is included). Exact integer comparison: units × 100 ≥ included × percent. */
export function thresholdsReached(units: number, included: number): UsageThreshold[] {
  if (included <= 0) return [];
  return USAGE_THRESHOLDS.filter((p) => BigInt(units) * 100n >= BigInt(included) * BigInt(p));
}

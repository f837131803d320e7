/**
 * Billing periods: calendar months in UTC (the quota's periods too). A usage event belongs to
 * the period of the moment it was recorded (`occurredAt`).
 */
export interface BillingPeriod {
  /** `YYYY-MM` (UTC). */
  id: string;
  start: Date;
  end: Date;
}

export function billingPeriod(at: Date | number): BillingPeriod {
  const d = new Date(at);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return { id: `${String(y).padStart(4, '0')}-${String(m + 1).padStart(2, '0')}`, start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)) };
}

/** Usage rollups are kept in buckets of this size (UTC): every IANA offset in use is a multiple of 15 minutes, so day and month totals in any time zone are exact. */
export const BUCKET_MS = 15 * 60_000;

/** Start of the 15-minute bucket holding `at`. */
export function bucketStart(at: Date | number): Date {
  const t = new Date(at).getTime();
  return new Date(t - (((t % BUCKET_MS) + BUCKET_MS) % BUCKET_MS));
}

/** When a plan change made at `at` takes effect for prices and included units: the next bucket boundary (`at` itself when on one). */
export function effectiveAtOf(at: Date | number): Date {
  const t = new Date(at).getTime();
  const start = bucketStart(t).getTime();
  return new Date(start === t ? t : start + BUCKET_MS);
}

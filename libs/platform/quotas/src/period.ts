/**
 * Quota periods: calendar months in UTC. A prediction belongs to the period of its creation,
 * which its UUIDv7 id carries (so a settlement or a rebuild finds the period from the id alone,
 * and a prediction created on the 31st at 23:59 that finishes on the 1st counts in the month it
 * was admitted in).
 */
export interface QuotaPeriod {
  /** `YYYY-MM` (UTC). */
  id: string;
  /** First instant of the month (inclusive). */
  start: Date;
  /** First instant of the next month (exclusive). */
  end: Date;
}

export function monthPeriod(at: Date | number): QuotaPeriod {
  const d = new Date(at);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const start = new Date(Date.UTC(y, m, 1));
  const end = new Date(Date.UTC(y, m + 1, 1));
  return { id: `${String(y).padStart(4, '0')}-${String(m + 1).padStart(2, '0')}`, start, end };
}

/** Whole seconds from `now` to the period's end (at least 1): the `t` of the RateLimit header and Retry-After. */
export function secondsToReset(period: QuotaPeriod, now: Date | number): number {
  return Math.max(1, Math.ceil((period.end.getTime() - new Date(now).getTime()) / 1000));
}

/** The period's length in seconds (the `w` of the RateLimit-Policy header). */
export function periodSeconds(period: QuotaPeriod): number {
  return Math.round((period.end.getTime() - period.start.getTime()) / 1000);
}

/**
 * The smallest and the first-past UUIDv7 of a period: ids compare as their timestamps do
 * (48-bit ms first), so `id >= lower AND id < upper` selects the period's predictions.
 */
export function uuidv7Bounds(period: QuotaPeriod): { lower: string; upper: string } {
  const at = (ms: number) => {
    const hex = ms.toString(16).padStart(12, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
  };
  return { lower: at(period.start.getTime()), upper: at(period.end.getTime()) };
}

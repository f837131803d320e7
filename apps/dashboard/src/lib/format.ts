// Numbers, money and dates in the viewer's locale and time zone (Intl), one place.

const locale = (): string | undefined => (typeof navigator !== 'undefined' ? navigator.language : undefined);

export function viewerTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function formatNumber(n: number, opts: Intl.NumberFormatOptions = {}, loc = locale()): string {
  return new Intl.NumberFormat(loc, opts).format(n);
}

export function formatPercent(ratio: number | null, loc = locale()): string {
  return ratio === null ? '—' : new Intl.NumberFormat(loc, { style: 'percent', maximumFractionDigits: 1 }).format(ratio);
}

/** Fraction digits of a currency's minor unit (USD 2, JPY 0), from Intl itself. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Integer minor units (cents) of an ISO currency, formatted as money. */
export function formatMoney(minor: number, currency: string, loc = locale()): string {
  const digits = minorDigits(currency);
  return new Intl.NumberFormat(loc, { style: 'currency', currency: currency.toUpperCase() }).format(minor / 10 ** digits);
}

/** A unit price in minor units as a decimal string ("0.125" cent) as money with the digits it needs. */
export function formatUnitPrice(minor: string, currency: string, loc = locale()): string {
  const digits = minorDigits(currency);
  const value = Number(minor) / 10 ** digits;
  return new Intl.NumberFormat(loc, { style: 'currency', currency: currency.toUpperCase(), maximumFractionDigits: 8, minimumFractionDigits: digits }).format(value);
}

export function formatDateTime(iso: string | null | undefined, loc = locale(), timeZone = viewerTimeZone()): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(loc, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(new Date(iso));
}

export function formatDate(iso: string | null | undefined, loc = locale(), timeZone = viewerTimeZone()): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(loc, { dateStyle: 'medium', timeZone }).format(new Date(iso));
}

/** A bucket's start as a chart label: hours with the time, days with the date, months with month and year. */
export function formatBucket(iso: string, granularity: 'hour' | 'day' | 'month', loc = locale(), timeZone = viewerTimeZone()): string {
  const opts: Intl.DateTimeFormatOptions =
    granularity === 'hour' ? { hour: 'numeric', day: 'numeric', month: 'short', timeZone } : granularity === 'day' ? { day: 'numeric', month: 'short', timeZone } : { month: 'short', year: 'numeric', timeZone };
  return new Intl.DateTimeFormat(loc, opts).format(new Date(iso));
}

export function formatMs(ms: number | null, loc = locale()): string {
  if (ms === null) return '—';
  return ms >= 1000 ? `${formatNumber(ms / 1000, { maximumFractionDigits: 2 }, loc)} s` : `${formatNumber(ms, { maximumFractionDigits: 0 }, loc)} ms`;
}

/** "in 3 days" / "2 hours ago" in the viewer's language. */
export function formatRelative(iso: string | null, now = Date.now(), loc = locale()): string {
  if (!iso) return 'never';
  const diff = new Date(iso).getTime() - now;
  const rtf = new Intl.RelativeTimeFormat(loc, { numeric: 'auto' });
  const abs = Math.abs(diff);
  if (abs < 60_000) return rtf.format(Math.round(diff / 1000), 'second');
  if (abs < 3_600_000) return rtf.format(Math.round(diff / 60_000), 'minute');
  if (abs < 86_400_000) return rtf.format(Math.round(diff / 3_600_000), 'hour');
  return rtf.format(Math.round(diff / 86_400_000), 'day');
}

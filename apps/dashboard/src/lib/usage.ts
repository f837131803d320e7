import type { Granularity, UsageRow } from '../api/types.js';

/** One bar of the chart: a bucket's start and one value per series (feature, key, …). */
export type ChartPoint = { start: string } & Record<string, number | string>;

/**
 * The chart's data from the usage rows: one point per bucket start (in the order the API sorts
 * them), one series per value of `by` (rows without it go to "all"), summing `metric`. The table
 * shows the same rows, so chart and table agree by construction (see usageTotals).
 */
export function pivotUsage(rows: readonly UsageRow[], by: 'feature' | 'api_key_id' | 'model' | 'mode' | null, metric: 'calls' | 'units' | 'amount'): { points: ChartPoint[]; series: string[] } {
  const points = new Map<string, ChartPoint>();
  const series = new Set<string>();
  for (const r of rows) {
    const name = (by ? r[by] : undefined) ?? 'all';
    series.add(name);
    let p = points.get(r.start);
    if (!p) points.set(r.start, (p = { start: r.start }));
    p[name] = ((p[name] as number | undefined) ?? 0) + r[metric];
  }
  const names = [...series].sort();
  for (const p of points.values()) for (const n of names) p[n] ??= 0;
  return { points: [...points.values()].sort((a, b) => a.start.localeCompare(b.start)), series: names };
}

export function usageTotals(rows: readonly UsageRow[]): { calls: number; units: number; amount: number } {
  return rows.reduce((t, r) => ({ calls: t.calls + r.calls, units: t.units + r.units, amount: t.amount + r.amount }), { calls: 0, units: 0, amount: 0 });
}

/** The default range of a granularity, ending now: 48 hours, 30 days or 12 months. */
export function defaultRange(granularity: Granularity, now = new Date()): { from: Date; to: Date } {
  const to = new Date(now);
  const from = new Date(now);
  if (granularity === 'hour') from.setHours(from.getHours() - 47, 0, 0, 0);
  else if (granularity === 'day') {
    from.setDate(from.getDate() - 29);
    from.setHours(0, 0, 0, 0);
  } else {
    from.setMonth(from.getMonth() - 11, 1);
    from.setHours(0, 0, 0, 0);
  }
  return { from, to };
}

/** The start of the viewer's current calendar month (local time). */
export function monthStart(now = new Date()): Date {
  return new Date(now.getFullYear(), now.getMonth(), 1);
}

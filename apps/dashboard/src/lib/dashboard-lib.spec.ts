import { describe, expect, it } from '@jest/globals';
import { burnDown } from './burn-down.js';
import { toCsv } from './csv.js';
import { formatMoney, formatUnitPrice } from './format.js';
import { pivotUsage, usageTotals } from './usage.js';

const day = 86_400_000;
const start = new Date('2026-03-01T00:00:00Z');
const end = new Date('2026-04-01T00:00:00Z');

describe('burnDown', () => {
  it('projects the run-out day from the pace since the period began', () => {
    const b = burnDown({ included: 1000, used: 500, start, end, now: new Date(start.getTime() + 10 * day) });
    expect(b.perDay).toBeCloseTo(50);
    expect(b.runOutAt?.toISOString()).toBe('2026-03-21T00:00:00.000Z');
    expect(b.remaining).toBe(500);
    expect(b.exhausted).toBe(false);
    expect(b.series.at(-1)).toEqual({ t: end.getTime(), projected: 0 });
  });

  it('says nothing runs out when the pace lasts the period, or the quota is unlimited', () => {
    expect(burnDown({ included: 1000, used: 10, start, end, now: new Date(start.getTime() + 10 * day) }).runOutAt).toBeNull();
    expect(burnDown({ included: null, used: 10, start, end, now: new Date(start.getTime() + day) })).toMatchObject({ remaining: null, runOutAt: null });
    expect(burnDown({ included: 1000, used: 0, start, end, now: new Date(start.getTime() + day) }).runOutAt).toBeNull();
  });

  it('marks an exhausted quota with the instant it ran out', () => {
    const b = burnDown({ included: 100, used: 200, start, end, now: new Date(start.getTime() + 10 * day) });
    expect(b.exhausted).toBe(true);
    expect(b.remaining).toBe(0);
    expect(b.runOutAt?.toISOString()).toBe('2026-03-06T00:00:00.000Z');
  });
});

describe('usage rows', () => {
  const rows = [
    { start: '2026-03-02T00:00:00Z', end: '2026-03-03T00:00:00Z', feature: 'sentiment', calls: 2, units: 2, amount: 10 },
    { start: '2026-03-01T00:00:00Z', end: '2026-03-02T00:00:00Z', feature: 'ocr', calls: 1, units: 5, amount: 25 },
    { start: '2026-03-01T00:00:00Z', end: '2026-03-02T00:00:00Z', feature: 'sentiment', calls: 3, units: 3, amount: 15 },
  ];

  it('pivots into one point per bucket and one series per feature whose sums equal the totals', () => {
    const { points, series } = pivotUsage(rows, 'feature', 'calls');
    expect(series).toEqual(['ocr', 'sentiment']);
    expect(points).toEqual([
      { start: '2026-03-01T00:00:00Z', ocr: 1, sentiment: 3 },
      { start: '2026-03-02T00:00:00Z', ocr: 0, sentiment: 2 },
    ]);
    const chartSum = points.reduce((s, p) => s + series.reduce((t, n) => t + (p[n] as number), 0), 0);
    expect(chartSum).toBe(usageTotals(rows).calls);
  });

  it('exports CSV with quoting and formula neutralising', () => {
    expect(toCsv(['a', 'b'], [['x,y', 1], ['=SUM(A1)', 'say "hi"']])).toBe('a,b\r\n"x,y",1\r\n\'=SUM(A1),"say ""hi"""\r\n');
  });
});

describe('money', () => {
  it('formats integer minor units and decimal-string unit prices in the currency', () => {
    expect(formatMoney(12345, 'usd', 'en-US')).toBe('$123.45');
    expect(formatMoney(500, 'jpy', 'en-US')).toBe('¥500');
    expect(formatUnitPrice('0.125', 'usd', 'en-US')).toBe('$0.00125');
  });
});

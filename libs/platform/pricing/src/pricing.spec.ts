import { describe, expect, it } from '@jest/globals';
import {
  billingPeriod,
  bucketStart,
  divideHalfEven,
  effectiveAtOf,
  formatPrice,
  invoiceTotal,
  isTimeZone,
  isUnitPrice,
  lineAmount,
  microsToUnitPrice,
  nextZonedPeriodStart,
  planAt,
  planSegments,
  proratedIncluded,
  scaledPrice,
  segmentLines,
  thresholdsReached,
  unitPriceOf,
  zonedPeriodStart,
  type PlanPricing,
} from './index.js';

describe('money: decimal unit prices, integer minor units, half-even once', () => {
  it('parses and formats prices exactly', () => {
    expect(scaledPrice('0.125')).toBe(125_000_000_000n);
    expect(formatPrice(scaledPrice('12.500'))).toBe('12.5');
    expect(formatPrice(scaledPrice('0'))).toBe('0');
    for (const bad of ['-1', '1e3', '.5', '01', '0.1234567890123', '', ' 1', '1.']) expect(isUnitPrice(bad)).toBe(false);
    expect(() => scaledPrice('abc')).toThrow();
  });

  it('rounds half to even', () => {
    expect(divideHalfEven(5n, 2n)).toBe(2n); // 2.5 → 2
    expect(divideHalfEven(7n, 2n)).toBe(4n); // 3.5 → 4
    expect(divideHalfEven(11n, 4n)).toBe(3n); // 2.75 → 3
    expect(divideHalfEven(9n, 4n)).toBe(2n); // 2.25 → 2
    expect(divideHalfEven(-5n, 2n)).toBe(-2n);
  });

  it('computes a line amount once, without floating point', () => {
    expect(lineAmount(4, '0.125')).toBe(0); // 0.5 → 0 (even)
    expect(lineAmount(12, '0.125')).toBe(2); // 1.5 → 2
    expect(lineAmount(20, '0.125')).toBe(2); // 2.5 → 2
    expect(lineAmount(3, '0.1')).toBe(0); // 0.3 (a float would say 0.30000000000000004)
    expect(lineAmount(1_000_000_007, '0.02')).toBe(20_000_000); // 20000000.14
    expect(lineAmount(10n ** 12n, '0.000000000001')).toBe(1);
    // Rounding per line, not per unit: 3 × 0.5 = 1.5 → 2, while per-unit rounding would give 0 (0.5 → 0, three times).
    expect(lineAmount(3, '0.5')).toBe(2);
    expect(() => lineAmount(1.5, '1')).toThrow();
    expect(() => lineAmount(-1, '1')).toThrow();
  });

  it('converts the former micro-USD prices', () => {
    expect(microsToUnitPrice(200)).toBe('0.02');
    expect(microsToUnitPrice(150)).toBe('0.015');
    expect(microsToUnitPrice(0)).toBe('0');
  });
});

describe('periods and buckets', () => {
  it('billing periods are UTC calendar months', () => {
    const p = billingPeriod(new Date('2026-02-28T23:59:59.999Z'));
    expect(p).toEqual({ id: '2026-02', start: new Date('2026-02-01T00:00:00Z'), end: new Date('2026-03-01T00:00:00Z') });
  });

  it('15-minute buckets and the effective time of a change', () => {
    expect(bucketStart(new Date('2026-12-01T10:44:59.999Z')).toISOString()).toBe('2026-12-01T10:30:00.000Z');
    expect(effectiveAtOf(new Date('2026-12-01T10:30:00.001Z')).toISOString()).toBe('2026-12-01T10:45:00.000Z');
    expect(effectiveAtOf(new Date('2026-12-01T10:45:00.000Z')).toISOString()).toBe('2026-12-01T10:45:00.000Z');
  });

  it('time zone periods, including 30/45-minute offsets and DST', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(zonedPeriodStart(new Date('2026-12-01T03:00:00Z'), 'day', 'Asia/Kolkata').toISOString()).toBe('2026-11-30T18:30:00.000Z');
    expect(zonedPeriodStart(new Date('2026-12-01T03:00:00Z'), 'hour', 'Asia/Kathmandu').toISOString()).toBe('2026-12-01T02:15:00.000Z');
    expect(zonedPeriodStart(new Date('2026-12-15T03:00:00Z'), 'month', 'America/New_York').toISOString()).toBe('2026-12-01T05:00:00.000Z');
    // 2026-03-08 is 23 hours long in New York (DST starts), 2026-11-01 is 25.
    const spring = zonedPeriodStart(new Date('2026-03-08T12:00:00Z'), 'day', 'America/New_York');
    expect(nextZonedPeriodStart(spring, 'day', 'America/New_York').getTime() - spring.getTime()).toBe(23 * 3_600_000);
    const fall = zonedPeriodStart(new Date('2026-11-01T12:00:00Z'), 'day', 'America/New_York');
    expect(nextZonedPeriodStart(fall, 'day', 'America/New_York').getTime() - fall.getTime()).toBe(25 * 3_600_000);
    expect(nextZonedPeriodStart(new Date('2026-11-30T18:30:00Z'), 'month', 'Asia/Kolkata').toISOString()).toBe('2026-12-31T18:30:00.000Z');
  });
});

const FREE: PlanPricing = { id: 'p-free', key: 'free', name: 'Free', currency: 'usd', includedUnits: 1000, unitPrice: '0', featurePrices: {} };
const PRO: PlanPricing = { id: 'p-pro', key: 'pro', name: 'Pro', currency: 'usd', includedUnits: 100_000, unitPrice: '0.02', featurePrices: { ocr: '0.05' } };
const ENT: PlanPricing = { id: 'p-ent', key: 'enterprise', name: 'Enterprise', currency: 'usd', includedUnits: null, unitPrice: '0.015', featurePrices: {} };

describe('plan changes and proration', () => {
  const period = billingPeriod(new Date('2026-12-10T00:00:00Z')); // 31 days
  const change = (from: string, to: string, at: string) => ({ fromPlanId: from, toPlanId: to, effectiveAt: new Date(at), createdAt: new Date(at) });

  it('splits the period at each change', () => {
    const changes = [change('p-free', 'p-pro', '2026-12-11T00:00:00Z')];
    expect(planAt(new Date('2026-12-01T00:00:00Z'), 'p-pro', changes)).toBe('p-free');
    expect(planAt(new Date('2026-12-20T00:00:00Z'), 'p-pro', changes)).toBe('p-pro');
    expect(planSegments(period, 'p-pro', changes)).toEqual([
      { start: period.start, end: new Date('2026-12-11T00:00:00Z'), planId: 'p-free' },
      { start: new Date('2026-12-11T00:00:00Z'), end: period.end, planId: 'p-pro' },
    ]);
    expect(planSegments(period, 'p-pro', [])).toEqual([{ start: period.start, end: period.end, planId: 'p-pro' }]);
    // Changes back and forth in one quarter hour: the last one wins from its effective time.
    const twice = [change('p-free', 'p-pro', '2026-12-11T00:00:00Z'), { ...change('p-pro', 'p-free', '2026-12-11T00:00:00Z'), createdAt: new Date('2026-12-11T00:00:01Z') }];
    expect(planSegments(period, 'p-free', twice)).toEqual([{ start: period.start, end: period.end, planId: 'p-free' }]);
  });

  it('prorates included units by time, half to even', () => {
    expect(proratedIncluded(1000, { start: period.start, end: new Date('2026-12-11T00:00:00Z') }, period)).toBe(323); // 1000 × 10/31 = 322.58
    expect(proratedIncluded(100_000, { start: new Date('2026-12-11T00:00:00Z'), end: period.end }, period)).toBe(67_742); // 100000 × 21/31 = 67741.9
    expect(proratedIncluded(null, period, period)).toBe(0);
    expect(proratedIncluded(31, { start: period.start, end: new Date('2026-12-01T12:00:00Z') }, period)).toBe(0); // 0.5 → 0
  });

  it('prices a stretch: included units to the dearest feature first, one rounding per line', () => {
    const lines = segmentLines({ start: period.start, end: period.end, planId: PRO.id }, PRO, period, [
      { feature: 'classify', unitType: 'image', units: 150_000 },
      { feature: 'ocr', unitType: 'page', units: 30_001 },
      { feature: 'unused', unitType: 'call', units: 0 },
    ]);
    expect(lines.map(({ feature, units, included, billable, unit_price, amount }) => ({ feature, units, included, billable, unit_price, amount }))).toEqual([
      { feature: 'ocr', units: 30_001, included: 30_001, billable: 0, unit_price: '0.05', amount: 0 },
      { feature: 'classify', units: 150_000, included: 69_999, billable: 80_001, unit_price: '0.02', amount: 1600 }, // 1600.02
    ]);
    expect(invoiceTotal(lines)).toBe(1600);
  });

  it('enterprise: custom prices per feature, nothing included', () => {
    expect(unitPriceOf('ocr', ENT, { ocr: '0.011' })).toBe('0.011');
    expect(unitPriceOf('classify', ENT, { ocr: '0.011' })).toBe('0.015');
    const [line] = segmentLines({ start: period.start, end: period.end, planId: ENT.id }, ENT, period, [{ feature: 'ocr', unitType: 'page', units: 1000 }], { ocr: '0.011' });
    expect(line).toMatchObject({ included: 0, billable: 1000, amount: 11 });
  });

  it('free plan bills nothing', () => {
    const lines = segmentLines({ start: period.start, end: period.end, planId: FREE.id }, FREE, period, [{ feature: 'classify', unitType: 'image', units: 1000 }]);
    expect(lines[0]).toMatchObject({ included: 1000, billable: 0, amount: 0 });
  });
});

describe('usage thresholds', () => {
  it('reports each threshold reached, exactly', () => {
    expect(thresholdsReached(499, 1000)).toEqual([]);
    expect(thresholdsReached(500, 1000)).toEqual([50]);
    expect(thresholdsReached(800, 1000)).toEqual([50, 80]);
    expect(thresholdsReached(5000, 1000)).toEqual([50, 80, 100]);
    expect(thresholdsReached(1, 1)).toEqual([50, 80, 100]);
    expect(thresholdsReached(10, 0)).toEqual([]);
  });
});

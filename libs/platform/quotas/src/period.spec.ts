import { describe, expect, it } from '@jest/globals';
import { uuidv7, uuidv7Timestamp } from '#infra/db';
import { monthPeriod, periodSeconds, secondsToReset, uuidv7Bounds } from './period.js';

describe('monthPeriod (calendar months, UTC)', () => {
  it('starts at the first instant of the UTC month and ends at the next one', () => {
    const p = monthPeriod(new Date('2026-12-31T23:59:59.999Z'));
    expect(p).toEqual({ id: '2026-12', start: new Date('2026-12-01T00:00:00.000Z'), end: new Date('2027-01-01T00:00:00.000Z') });
    expect(monthPeriod(new Date('2027-01-01T00:00:00.000Z')).id).toBe('2027-01');
  });

  it('ignores the local time zone: 1 March 00:30 in UTC+2 is still February in UTC', () => {
    expect(monthPeriod(new Date('2028-03-01T00:30:00+02:00')).id).toBe('2028-02');
  });

  it('knows leap years and month lengths', () => {
    expect(periodSeconds(monthPeriod(Date.UTC(2028, 1, 10)))).toBe(29 * 86_400);
    expect(periodSeconds(monthPeriod(Date.UTC(2027, 1, 10)))).toBe(28 * 86_400);
    expect(periodSeconds(monthPeriod(Date.UTC(2027, 3, 10)))).toBe(30 * 86_400);
  });

  it('counts whole seconds to the reset, never less than 1', () => {
    const p = monthPeriod(Date.UTC(2026, 11, 5));
    expect(secondsToReset(p, new Date('2026-12-31T23:59:58.500Z'))).toBe(2);
    expect(secondsToReset(p, p.end)).toBe(1);
  });
});

describe('uuidv7Bounds', () => {
  it('selects exactly the ids created within the period', () => {
    const p = monthPeriod(Date.UTC(2026, 10, 15));
    const { lower, upper } = uuidv7Bounds(p);
    // uuidv7() never goes back in time within a process: make them in ascending order.
    const [before, first, last, after] = [p.start.getTime() - 1, p.start.getTime(), p.end.getTime() - 1, p.end.getTime()].map((ms) => uuidv7(ms));
    const inside = [first!, last!];
    const outside = [before!, after!];
    expect(outside.concat(inside).map(uuidv7Timestamp)).toEqual([p.start.getTime() - 1, p.end.getTime(), p.start.getTime(), p.end.getTime() - 1]);
    for (const id of inside) expect(id >= lower && id < upper).toBe(true);
    for (const id of outside) expect(id >= lower && id < upper).toBe(false);
    expect(uuidv7Timestamp(lower)).toBe(p.start.getTime());
  });
});

import { describe, expect, it } from '@jest/globals';
import { decide, overLimit, remaining } from './decision.js';

describe('the quota decision', () => {
  const block = { limit: 10, overage: 'block' as const };
  const allow = { limit: 10, overage: 'allow' as const };

  it('admits while the reservation fits whole, and refuses at the limit (used + reserved >= limit)', () => {
    expect(decide({ used: 5, reserved: 4 }, 1, block)).toEqual({ admitted: true, overageUnits: 0 });
    expect(decide({ used: 5, reserved: 5 }, 1, block).admitted).toBe(false);
    expect(decide({ used: 11, reserved: 0 }, 1, block).admitted).toBe(false);
  });

  it('refuses a reservation that would cross the limit, and a free (0-unit) one at the limit', () => {
    expect(decide({ used: 8, reserved: 0 }, 3, block).admitted).toBe(false);
    expect(decide({ used: 8, reserved: 0 }, 2, block).admitted).toBe(true);
    expect(overLimit({ used: 10, reserved: 0 }, 0, 10)).toBe(true);
    expect(overLimit({ used: 9, reserved: 0 }, 0, 10)).toBe(false);
  });

  it('a plan that allows overage admits past the limit and says how much is overage', () => {
    expect(decide({ used: 10, reserved: 0 }, 1, allow)).toEqual({ admitted: true, overageUnits: 1 });
    expect(decide({ used: 8, reserved: 0 }, 3, allow)).toEqual({ admitted: true, overageUnits: 1 });
    expect(decide({ used: 40, reserved: 2 }, 3, allow)).toEqual({ admitted: true, overageUnits: 3 });
  });

  it('an unlimited plan (limit null) always admits, with nothing remaining to count', () => {
    expect(decide({ used: 1e9, reserved: 1e9 }, 5, { limit: null, overage: 'block' })).toEqual({ admitted: true, overageUnits: 0 });
    expect(remaining({ used: 3, reserved: 0 }, null)).toBeNull();
  });

  it('remaining never goes below zero', () => {
    expect(remaining({ used: 3, reserved: 2 }, 10)).toBe(5);
    expect(remaining({ used: 13, reserved: 2 }, 10)).toBe(0);
  });
});

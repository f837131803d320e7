import { describe, expect, it } from '@jest/globals';
import { afterPaid, afterPaymentFailed, dueForSuspension } from './billing-state.js';

const now = new Date('2026-12-01T10:00:00Z');

describe('billing status', () => {
  it('a failed payment: active → past_due with the grace period; a second failure keeps the first deadline', () => {
    const first = afterPaymentFailed({ status: 'active', graceUntil: null }, now, 72);
    expect(first).toEqual({ status: 'past_due', graceUntil: new Date('2026-12-04T10:00:00Z') });
    expect(afterPaymentFailed(first, new Date('2026-12-02T10:00:00Z'), 72)).toBe(first);
    expect(afterPaymentFailed({ status: 'suspended', graceUntil: null }, now, 72).status).toBe('suspended');
  });

  it('suspended once the grace period is over, restored by a payment', () => {
    const s = afterPaymentFailed({ status: 'active', graceUntil: null }, now, 1);
    expect(dueForSuspension(s, new Date('2026-12-01T10:59:59Z'))).toBe(false);
    expect(dueForSuspension(s, new Date('2026-12-01T11:00:00Z'))).toBe(true);
    expect(dueForSuspension({ status: 'active', graceUntil: null }, now)).toBe(false);
    expect(afterPaid()).toEqual({ status: 'active', graceUntil: null });
  });
});

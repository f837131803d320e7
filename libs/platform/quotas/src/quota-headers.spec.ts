import { describe, expect, it } from '@jest/globals';
import { settlementOf } from './quota-consumer.js';
import { monthPeriod } from './period.js';
import { quotaHeaders } from './quota.service.js';

describe('quotaHeaders (IETF RateLimit fields, policy "quota")', () => {
  const period = monthPeriod(Date.UTC(2026, 1, 10)); // February 2026: 28 days
  const now = new Date('2026-02-28T23:00:00Z');

  it('says the units per month, the units left and the seconds to the reset', () => {
    expect(quotaHeaders({ limit: 1000, overage: 'block', state: { used: 900, reserved: 90 }, period, now })).toEqual({
      'ratelimit-policy': '"quota";q=1000;w=2419200',
      ratelimit: '"quota";r=10;t=3600',
    });
  });

  it('never says a negative remainder (overage), and says nothing for an unlimited plan', () => {
    expect(quotaHeaders({ limit: 10, overage: 'allow', state: { used: 12, reserved: 3 }, period, now })['ratelimit']).toBe('"quota";r=0;t=3600');
    expect(quotaHeaders({ limit: null, overage: 'block', state: { used: 12, reserved: 3 }, period, now })).toEqual({});
  });
});

describe('settlementOf', () => {
  const base = { id: 'e', orgId: 'o', predictionId: 'p', occurredAt: new Date() };
  const subject = { apiKeyId: 'k', mode: 'live' as const, feature: 'f', featureVersion: '1' };
  it('a success settles to its units, a failure or cancellation gives the reservation back, other events do nothing', () => {
    expect(settlementOf({ ...base, type: 'prediction.succeeded', data: { ...subject, units: 4, unitType: 'image', models: [] } })).toEqual({ actual: 4 });
    expect(settlementOf({ ...base, type: 'prediction.failed', data: { ...subject, error: { code: 'x', message: 'y' } } })).toEqual({ actual: null });
    expect(settlementOf({ ...base, type: 'prediction.canceled', data: subject })).toEqual({ actual: null });
    expect(settlementOf({ ...base, type: 'prediction.started', data: { ...subject, attempt: 1 } })).toBeUndefined();
  });
});

import { describe, expect, it } from '@jest/globals';
import { statsView } from './traffic-stats.js';

const base = {
  mode: 'live' as const,
  window: { start: new Date('2026-01-01T00:00:00Z'), end: new Date('2026-01-02T00:00:00Z') },
  plan: { rateLimitPerMinute: 60, rateLimitBurst: 10, maxConcurrentPredictions: 5 },
  quota: { period: { start: new Date('2026-01-01T00:00:00Z'), end: new Date('2026-02-01T00:00:00Z') }, limit: 1000, overage: 'block', used: 12 },
};

describe('statsView', () => {
  it('counts failed among finished predictions only, rounds latencies and floors headroom at zero', () => {
    const v = statsView({ ...base, row: { total: 10, succeeded: 6, failed: 2, canceled: 1, pending: 1, p50: 12.4, p95: 80.6 }, peakPerMinute: 75 });
    expect(v.predictions.error_rate).toBe(0.25);
    expect(v.latency_ms).toEqual({ p50: 12, p95: 81 });
    expect(v.rate_limit).toMatchObject({ per_minute: 60, peak_per_minute: 75, headroom_per_minute: 0, in_flight: 1 });
    expect(v.quota).toEqual({ period: { start: '2026-01-01T00:00:00.000Z', end: '2026-02-01T00:00:00.000Z' }, included_units: 1000, used_units: 12, overage: 'block' });
  });

  it('has no error rate and no latency when nothing finished', () => {
    const v = statsView({ ...base, row: { total: 1, succeeded: 0, failed: 0, canceled: 1, pending: 0, p50: null, p95: null }, peakPerMinute: 1 });
    expect(v.predictions.error_rate).toBeNull();
    expect(v.latency_ms).toEqual({ p50: null, p95: null });
    expect(v.rate_limit.headroom_per_minute).toBe(59);
  });
});

import { describe, expect, it } from '@jest/globals';
import { gcraTake, keyPolicy, leaseSize, LEASE_MAX, LEASE_MIN_REMAINING, rateLimitHeaders, retryAfterSeconds } from './gcra.js';

const p = { perMinute: 60, burst: 10 }; // T = 1000 ms, capacity 10 000 ms

describe('gcraTake', () => {
  it('grants a full burst at once, then exactly one request per emission interval', () => {
    const now = 1_000_000;
    const first = gcraTake(0, now, p, 10);
    expect(first).toMatchObject({ granted: 10, remaining: 0, tat: now + 10_000, resetMs: 10_000 });
    const refused = gcraTake(first.tat, now, p, 1);
    expect(refused).toMatchObject({ granted: 0, remaining: 0, retryMs: 1_000 });
    expect(gcraTake(first.tat, now + 999, p, 1).granted).toBe(0);
    expect(gcraTake(first.tat, now + 999, p, 1).retryMs).toBe(1);
    const later = gcraTake(first.tat, now + 1_000, p, 5);
    expect(later).toMatchObject({ granted: 1, remaining: 0 });
  });

  it('grants part of a larger request (a lease) and counts what remains', () => {
    const g = gcraTake(0, 0, p, 4);
    expect(g).toMatchObject({ granted: 4, remaining: 6, tat: 4_000 });
    const h = gcraTake(g.tat, 0, p, 100);
    expect(h).toMatchObject({ granted: 6, remaining: 0 });
  });

  it('refills at the sustained rate, never above the burst', () => {
    const g = gcraTake(0, 0, p, 10);
    expect(gcraTake(g.tat, 3_000, p, 100).granted).toBe(3);
    expect(gcraTake(g.tat, 1_000_000, p, 100).granted).toBe(10);
  });

  it('gives unused leased requests back, but never earlier than now', () => {
    const g = gcraTake(0, 0, p, 10); // tat 10 000
    expect(gcraTake(g.tat, 0, p, 100, 3)).toMatchObject({ granted: 3 });
    expect(gcraTake(g.tat, 0, p, 100, 50)).toMatchObject({ granted: 10 }); // capped at a full bucket
  });

  it('works with fractional intervals (7 per minute)', () => {
    const q = { perMinute: 7, burst: 2 };
    const g = gcraTake(0, 0, q, 3);
    expect(g.granted).toBe(2);
    const r = gcraTake(g.tat, 0, q, 1);
    expect(r.granted).toBe(0);
    expect(r.retryMs).toBe(Math.ceil(60_000 / 7));
  });
});

describe('keyPolicy', () => {
  it('keeps the organization policy for a key without a lower override, and scales the burst with a lower rate', () => {
    expect(keyPolicy(600, { perMinute: 600, burst: 300 })).toEqual({ perMinute: 600, burst: 300 });
    expect(keyPolicy(60, { perMinute: 600, burst: 300 })).toEqual({ perMinute: 60, burst: 30 });
    expect(keyPolicy(1, { perMinute: 600, burst: 300 })).toEqual({ perMinute: 1, burst: 1 });
  });
});

describe('leaseSize', () => {
  it('asks for exactly one request near the limit (exact decisions)', () => {
    expect(leaseSize(0, 50)).toBe(1);
    expect(leaseSize(LEASE_MIN_REMAINING - 1, 1_000)).toBe(1);
  });
  it('follows demand far from the limit, bounded by a share of what remains and by LEASE_MAX', () => {
    expect(leaseSize(10_000, 0)).toBe(1);
    expect(leaseSize(10_000, 1)).toBe(2);
    expect(leaseSize(10_000, 20)).toBe(40);
    expect(leaseSize(100, 20)).toBe(12); // 1/8 of 100
    expect(leaseSize(1_000_000, 10_000)).toBe(LEASE_MAX);
  });
});

describe('rateLimitHeaders', () => {
  it('writes the draft-11 structured lists, one item per bucket', () => {
    const h = rateLimitHeaders([
      { name: 'key', policy: { perMinute: 60, burst: 10 }, remaining: 7, resetMs: 2_500 },
      { name: 'organization', policy: { perMinute: 600, burst: 300 }, remaining: 250.4, resetMs: -3 },
    ]);
    expect(h['ratelimit-policy']).toBe('"key";q=60;w=60, "organization";q=600;w=60');
    expect(h.ratelimit).toBe('"key";r=7;t=3, "organization";r=250;t=0');
  });
  it('Retry-After in whole seconds, at least 1', () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1_001)).toBe(2);
    expect(retryAfterSeconds(0)).toBe(1);
  });
});

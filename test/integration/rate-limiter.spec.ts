// RateLimiter against Redis: leases are refunded to the shared bucket, and a Redis that does
// not answer turns the limits off (fail open) instead of failing every request.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { AppConfig, parseEnv, readProcessEnv } from '#infra/config';
import { MetricsRegistry } from '#infra/metrics';
import { RedisClient } from '#infra/redis';
import { LEASE_MS, RateLimiter, type RateLimitSubject } from '#platform/rate-limits';
import { dropRedisPrefix } from '../support/redis.js';

const prefix = `t_ratelimit_${randomBytes(4).toString('hex')}`;
let redis: RedisClient;

const clientFor = (url: string) => new RedisClient(new AppConfig(parseEnv({ REDIS_URL: url, REDIS_PREFIX: prefix, NODE_ENV: 'test' })));
const subject = (perMinute: number, burst: number): RateLimitSubject => ({ keyId: randomUUID(), orgId: randomUUID(), mode: 'live', rateLimitPerMinute: perMinute, orgRateLimitPerMinute: perMinute, rateLimitBurst: burst });

async function outcome(l: RateLimiter, s: RateLimitSubject): Promise<'ok' | 'refused'> {
  try {
    await l.admit(s);
    return 'ok';
  } catch {
    return 'refused';
  }
}

beforeAll(async () => {
  redis = clientFor(readProcessEnv().REDIS_URL);
  await redis.redis.ping();
});

afterAll(async () => {
  await dropRedisPrefix(prefix, redis.redis);
  await redis.onApplicationShutdown();
});

describe('RateLimiter', () => {
  it("gives a lease's unused requests back: another gateway can spend them once the lease lapsed", async () => {
    const a = new RateLimiter(redis, new MetricsRegistry('a'));
    const b = new RateLimiter(redis, new MetricsRegistry('b'));
    const s = subject(1, 400); // no refill to speak of during the test
    for (let i = 0; i < 100; i++) expect(await outcome(a, s)).toBe('ok');
    // a now holds a lease with requests left; b gets what the bucket still holds, no more.
    let fromB = 0;
    while ((await outcome(b, s)) === 'ok') fromB++;
    expect(fromB).toBeLessThan(300);
    // a's lease lapses; a's next call refunds the rest, which b can then use: 400 in all.
    // (the gateway's clock moves past the lease's lifetime; Redis keeps its own clock)
    const realNow = Date.now.bind(Date);
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + LEASE_MS + 1);
    let fromA = 0;
    try {
      while ((await outcome(a, s)) === 'ok') fromA++;
    } finally {
      clock.mockRestore();
    }
    while ((await outcome(b, s)) === 'ok') fromB++;
    expect(100 + fromA + fromB).toBe(400);
  });

  it('admitLocal (the hot path) admits from the local lease only and never refuses; near the limit it leaves the decision to admit()', async () => {
    const metrics = new MetricsRegistry('local');
    const l = new RateLimiter(redis, metrics);
    const far = subject(1_000_000, 100_000);
    expect(l.admitLocal(far)).toBeUndefined(); // no lease yet
    let viaRedis = await l.admit(far);
    for (let i = 0; i < 100; i++) viaRedis = await l.admit(far); // the leases grow with use
    const calls = async () => (await metrics.registry.getSingleMetric('stratum_rate_limit_redis_calls_total')!.get()).values[0]?.value ?? 0;
    const before = await calls();
    const local = l.admitLocal(far);
    expect(local).toEqual({ 'ratelimit-policy': viaRedis['ratelimit-policy'], ratelimit: expect.stringMatching(/^"key";r=\d+;t=\d+, "organization";r=\d+;t=\d+$/) as unknown });
    expect(await calls()).toBe(before);
    const near = subject(1, 2);
    expect(await outcome(l, near)).toBe('ok');
    expect(await outcome(l, near)).toBe('ok');
    expect(l.admitLocal(near)).toBeUndefined(); // its lease is spent: admit() decides (and refuses)
    expect(await outcome(l, near)).toBe('refused');
    expect(l.admitLocal(near)).toBeUndefined();
  });

  it('admits without headers when Redis does not answer (fail open), within its timeout', async () => {
    const down = clientFor('redis://127.0.0.1:1');
    try {
      const l = new RateLimiter(down, new MetricsRegistry('down'));
      const started = Date.now();
      await expect(l.admit(subject(1, 1))).resolves.toEqual({});
      await expect(l.admit(subject(1, 1))).resolves.toEqual({});
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await down.onApplicationShutdown();
    }
  });
});

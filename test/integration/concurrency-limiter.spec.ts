// The in-flight cap against the real Redis (own key prefix): lapsed slots of a crashed gateway
// do not count, a release that overtakes the bind does not resurrect the slot, and the cap holds
// under concurrent acquisitions.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { AppConfig, parseEnv, readProcessEnv } from '#infra/config';
import { ProblemError } from '#infra/errors';
import { RedisClient } from '#infra/redis';
import { ConcurrencyLimiter } from '#platform/rate-limits';
import { dropRedisPrefix } from '../support/redis.js';

const prefix = `t_inflight_${randomBytes(4).toString('hex')}`;
let redis: RedisClient;
let limiter: ConcurrencyLimiter;

beforeAll(async () => {
  const config = new AppConfig(parseEnv({ REDIS_URL: readProcessEnv().REDIS_URL, REDIS_PREFIX: prefix, NODE_ENV: 'test' }));
  redis = new RedisClient(config);
  limiter = new ConcurrencyLimiter(redis, config);
  await redis.redis.ping();
});

afterAll(async () => {
  await dropRedisPrefix(prefix, redis.redis);
  await redis.onApplicationShutdown();
});

const subject = (max: number) => ({ orgId: randomUUID(), mode: 'live' as const, maxConcurrentPredictions: max });

describe('ConcurrencyLimiter', () => {
  it('holds the cap under 50 concurrent acquisitions, and a final prediction frees its slot', async () => {
    const s = subject(7);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => limiter.acquire(s, 0)));
    const held = results.filter((r) => r.status === 'fulfilled').map((r) => (r).value!);
    expect(held).toHaveLength(7);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(ProblemError);
    expect((refused.reason as ProblemError).code).toBe('concurrency_limited');
    // Bound to predictions; one finishes: one new slot can be taken, and only one.
    const ids = held.map(() => randomUUID());
    await Promise.all(held.map((slot, i) => limiter.settle(slot, { id: ids[i]!, final: false, replayed: false })));
    expect(await limiter.inFlight(s.orgId, 'live')).toBe(7);
    await limiter.releasePredictions([{ orgId: s.orgId, mode: 'live', predictionId: ids[0]! }]);
    await expect(limiter.acquire(s, 0)).resolves.not.toBeNull();
    await expect(limiter.acquire(s, 0)).rejects.toThrow(ProblemError);
  });

  it('does not count the lapsed slots of a crashed gateway', async () => {
    const s = subject(2);
    // Two slots a gateway took and never gave back (it crashed): they lapsed a second ago.
    await redis.redis.zadd(limiter.setKey(s.orgId, 'live'), Date.now() - 1_000, 'pending:crashed-1', Date.now() - 1_000, 'crashed-prediction');
    await expect(limiter.acquire(s, 0)).resolves.not.toBeNull();
    await expect(limiter.acquire(s, 0)).resolves.not.toBeNull();
    await expect(limiter.acquire(s, 0)).rejects.toThrow(ProblemError);
    expect(await redis.redis.zscore(limiter.setKey(s.orgId, 'live'), 'crashed-prediction')).toBeNull();
  });

  it('a release that overtakes the bind (the consumer was faster than the response) does not resurrect the slot', async () => {
    const s = subject(1);
    const slot = await limiter.acquire(s, 0);
    const id = randomUUID();
    await limiter.releasePredictions([{ orgId: s.orgId, mode: 'live', predictionId: id }]);
    await limiter.settle(slot, { id, final: false, replayed: false });
    expect(await limiter.inFlight(s.orgId, 'live')).toBe(0);
    await expect(limiter.acquire(s, 0)).resolves.not.toBeNull();
  });

  it('a prediction already final (or replayed) at the response gives its slot back at once', async () => {
    const s = subject(1);
    await limiter.settle(await limiter.acquire(s, 0), { id: randomUUID(), final: true, replayed: false });
    await limiter.settle(await limiter.acquire(s, 0), { id: randomUUID(), final: false, replayed: true });
    expect(await limiter.inFlight(s.orgId, 'live')).toBe(0);
  });
});

// FailureThrottle against the real Redis (own key prefix).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { AppConfig, parseEnv, readProcessEnv } from '#infra/config';
import { ProblemError } from '#infra/errors';
import { RedisClient } from '#infra/redis';
import { FailureThrottle, subjectToken } from './failure-throttle.js';

const prefix = `t_throttle_${randomBytes(4).toString('hex')}`;
let redis: RedisClient;

async function rejection(p: Promise<unknown>): Promise<ProblemError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ProblemError) return e;
    throw e;
  }
  throw new Error('expected a ProblemError');
}

beforeAll(async () => {
  redis = new RedisClient(new AppConfig(parseEnv({ REDIS_URL: readProcessEnv().REDIS_URL, REDIS_PREFIX: prefix, NODE_ENV: 'test' })));
  await redis.redis.ping();
});

afterAll(async () => {
  const keys = await redis.redis.keys(`${prefix}:*`);
  if (keys.length) await redis.redis.del(...keys);
  await redis.onApplicationShutdown();
});

describe('FailureThrottle', () => {
  it('refuses a subject with 429 and Retry-After once it reached the limit, and only that subject', async () => {
    const t = new FailureThrottle(redis, { name: 'a', limit: 3, windowSeconds: 60 });
    const ip = '203.0.113.7';
    for (let i = 0; i < 3; i++) {
      await t.check(ip);
      await t.fail(ip);
    }
    const refused = await rejection(t.check(ip));
    expect(refused.status).toBe(429);
    expect(refused.code).toBe('rate_limited');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(() => t.checkLocal(ip)).toThrow(ProblemError);
    await expect(t.check('203.0.113.8')).resolves.toBeUndefined();
    // The counter lives in Redis under a hashed subject with the window as its TTL.
    const key = `${prefix}:throttle:a:${subjectToken(ip)}`;
    expect(await redis.redis.get(key)).toBe('3');
    const ttl = await redis.redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('shares the count between instances: another instance refuses from Redis, and a failure past the limit throws', async () => {
    const a = new FailureThrottle(redis, { name: 'b', limit: 2, windowSeconds: 30 });
    const b = new FailureThrottle(redis, { name: 'b', limit: 2, windowSeconds: 30 });
    const subject = 'user@example.com\n:*?{}';
    await a.fail(subject);
    await a.fail(subject);
    expect(() => b.checkLocal(subject)).not.toThrow(); // b has not learnt it yet
    expect((await rejection(b.check(subject))).status).toBe(429);
    // A failure that crosses the limit (e.g. concurrent requests that passed check) throws too.
    const c = new FailureThrottle(redis, { name: 'b', limit: 2, windowSeconds: 30 });
    const crossed = await rejection(c.fail(subject));
    expect(crossed.code).toBe('rate_limited');
    expect(Number(crossed.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('refuses a locally blocked subject without a Redis round trip', async () => {
    const t = new FailureThrottle(redis, { name: 'c', limit: 1, windowSeconds: 60 });
    await t.fail('s');
    // Every Redis access of the throttle goes through multi() or del(): count them.
    let calls = 0;
    const multi = redis.redis.multi.bind(redis.redis);
    const del = redis.redis.del.bind(redis.redis);
    redis.redis.multi = ((...args: Parameters<typeof multi>) => (calls++, multi(...args))) as typeof multi;
    redis.redis.del = ((...args: Parameters<typeof del>) => (calls++, del(...args))) as typeof del;
    try {
      expect((await rejection(t.check('s'))).status).toBe(429);
      expect(calls).toBe(0);
      await t.check('not-blocked');
      expect(calls).toBe(1);
    } finally {
      // Drop the own-property overrides: the prototype's methods show through again.
      delete (redis.redis as Partial<typeof redis.redis>).multi;
      delete (redis.redis as Partial<typeof redis.redis>).del;
    }
  });

  it('reset clears the subject everywhere', async () => {
    const a = new FailureThrottle(redis, { name: 'd', limit: 1, windowSeconds: 60 });
    const b = new FailureThrottle(redis, { name: 'd', limit: 1, windowSeconds: 60 });
    await a.fail('x');
    expect((await rejection(a.check('x'))).status).toBe(429);
    await a.reset('x');
    await expect(a.check('x')).resolves.toBeUndefined();
    await expect(b.check('x')).resolves.toBeUndefined();
  });

  it('expires the block with the window (injected clock, real Redis TTL)', async () => {
    let now = 1_000_000;
    const t = new FailureThrottle(redis, { name: 'e', limit: 1, windowSeconds: 1 }, () => now);
    await t.fail('w');
    expect(() => t.checkLocal('w')).toThrow(ProblemError);
    now += 1_001;
    expect(() => t.checkLocal('w')).not.toThrow();
    const key = `${prefix}:throttle:e:${subjectToken('w')}`;
    const deadline = Date.now() + 3_000;
    while ((await redis.redis.exists(key)) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await expect(t.check('w')).resolves.toBeUndefined();
  });

  it('rejects nonsensical options', () => {
    expect(() => new FailureThrottle(redis, { name: 'f', limit: 0, windowSeconds: 60 })).toThrow(/limit/);
    expect(() => new FailureThrottle(redis, { name: 'f', limit: 1, windowSeconds: 0 })).toThrow(/windowSeconds/);
  });
});

// Revocation reaches every gateway within a second: two gateway processes (as in
// production behind a load balancer) on the same Postgres schema and Redis prefix; the key
// is warm in both in-process caches (TTL set to a minute so only the invalidation can
// explain a quick 401), revoked in Postgres and announced with publishKeyInvalidation.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { generateApiKey, publishKeyInvalidation } from '#platform/api-keys';
import { readProcessEnv } from '#infra/config';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';
import { insertApiKey } from '../support/keys.js';

const PEPPER = 'revocation-pepper-' + 'x'.repeat(32);
const THROTTLE = 6;

let db: TestDatabase;
let gateways: RunningApp[] = [];
let redis: Redis;
let prefix: string;
let orgId: string;

async function status(gateway: RunningApp, key: string): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  const res = await fetch(`${gateway.url}/v1/predictions?limit=1`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

async function newKey(): Promise<{ secret: string; id: string; digest: string }> {
  return insertApiKey(db.prisma, PEPPER, orgId, { name: 'e2e' });
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_revocation');
  ({ orgId } = await seedDemo({ prisma: db.prisma, pepper: PEPPER }));
  prefix = `e2e_rev_${randomBytes(4).toString('hex')}`;
  redis = new Redis(readProcessEnv().REDIS_URL);
  const env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '2',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    API_KEY_CACHE_TTL_MS: '60000',
    AUTH_THROTTLE_PER_MINUTE: String(THROTTLE),
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  gateways = await Promise.all([startApp('gateway', env), startApp('gateway', env)]);
}, 90_000);

afterAll(async () => {
  const codes = await Promise.all(gateways.map((g) => g.stop()));
  await db?.drop();
  await dropRedisPrefix(prefix, redis);
  redis.disconnect();
  expect(codes).toEqual([0, 0]);
});

describe('key revocation across gateway instances', () => {
  it('both instances answer 401 within 1000 ms of the invalidation', async () => {
    const key = await newKey();
    for (const g of gateways) for (let i = 0; i < 3; i++) expect((await status(g, key.secret)).status).toBe(200);
    await db.prisma.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
    // Still served from the caches: the database change alone is not seen yet.
    for (const g of gateways) expect((await status(g, key.secret)).status).toBe(200);

    const t0 = performance.now();
    await publishKeyInvalidation(redis, prefix, [key.digest]);
    const turned = await Promise.all(
      gateways.map(async (g) => {
        const deadline = t0 + 5_000;
        while (performance.now() < deadline) {
          const r = await status(g, key.secret);
          if (r.status === 401) return performance.now() - t0;
          expect(r.status).toBe(200);
        }
        throw new Error(`${g.url} still accepts the revoked key after 5 s`);
      }),
    );
    for (const ms of turned) expect(ms).toBeLessThan(1_000);
  });

  it('counts failed keys per IP across instances: 429 with Retry-After, the same 401 body before', async () => {
    const [a, b] = gateways as [RunningApp, RunningApp];
    const bodies: unknown[] = [];
    let refused: Awaited<ReturnType<typeof status>> | undefined;
    for (let i = 0; i < THROTTLE + 1 && !refused; i++) {
      const r = await status(a, generateApiKey('live').secret);
      if (r.status === 429) refused = r;
      else {
        expect(r.status).toBe(401);
        bodies.push({ ...(r.body as Record<string, unknown>), requestId: undefined });
      }
    }
    expect(refused?.status).toBe(429);
    expect(Number(refused?.retryAfter)).toBeGreaterThan(0);
    expect((refused?.body as { code: string }).code).toBe('rate_limited');
    for (const body of bodies) expect(body).toEqual(bodies[0]);
    // The other instance shares the count in Redis.
    const other = await status(b, 'sk_live_' + 'A'.repeat(32));
    expect(other.status).toBe(429);
    expect(Number(other.retryAfter)).toBeGreaterThan(0);
  });
});

// ApiKeyVerifier against real Postgres (own schema) and Redis (own prefix): the cache
// layers, negative caching, revocation through pub/sub, the in-flight race, batched
// last-used writes and the per-IP failure throttle.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { ApiKeyVerifier, apiKeyCacheKey, digestApiKey, generateApiKey, type KeyMode } from '#platform/api-keys';
import { AppConfig, parseEnv, readProcessEnv, type Env } from '#infra/config';
import { type PrismaClient } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { RedisClient } from '#infra/redis';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { dropRedisPrefix } from '../support/redis.js';
import { insertApiKey } from '../support/keys.js';

const PEPPER = 'verifier-pepper-' + 'x'.repeat(32);
const THROTTLE = 4;
const prefix = `t_verifier_${randomBytes(4).toString('hex')}`;

let db: TestDatabase;
let orgId: string;
let env: Env;
let redis: RedisClient;
const started: { verifier: ApiKeyVerifier; redis: RedisClient }[] = [];

/** Counts every Prisma operation (model queries and raw statements) the verifier makes. */
function countingPrisma(base: PrismaClient): { prisma: PrismaClient; count: () => number; ops: string[] } {
  const ops: string[] = [];
  const prisma = base.$extends({
    query: {
      $allOperations({ model, operation, args, query }) {
        ops.push(`${model ?? ''}.${operation}`);
        return query(args);
      },
    },
  }) as unknown as PrismaClient;
  return { prisma, count: () => ops.length, ops };
}

/** Counts the commands sent on a Redis connection (single commands go through sendCommand). */
function countCommands(client: RedisClient): { count: () => number; stop: () => void } {
  let n = 0;
  const original = client.redis.sendCommand.bind(client.redis);
  client.redis.sendCommand = (...args: Parameters<typeof original>) => {
    n++;
    return original(...args);
  };
  return {
    count: () => n,
    stop: () => {
      delete (client.redis as Partial<typeof client.redis>).sendCommand;
    },
  };
}

async function startVerifier(prisma: PrismaClient, overrides: Partial<Record<string, string>> = {}, redisClient?: RedisClient): Promise<ApiKeyVerifier> {
  const config = new AppConfig({ ...env, ...parseEnv({ ...rawEnv(), ...overrides }) });
  let r = redisClient;
  if (!r) {
    r = new RedisClient(config);
    await r.redis.ping(); // connected, as a started app is before it takes traffic
  }
  const verifier = new ApiKeyVerifier(config, prisma, r);
  await verifier.onModuleInit();
  started.push({ verifier, redis: r });
  return verifier;
}

function rawEnv(): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    REDIS_URL: readProcessEnv().REDIS_URL,
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    AUTH_THROTTLE_PER_MINUTE: String(THROTTLE),
    API_KEY_LAST_USED_FLUSH_MS: '3600000', // flushed by hand in these tests
  };
}

async function makeKey(opts: { mode?: KeyMode; expiresAt?: Date; scopes?: string[] } = {}): Promise<{ secret: string; id: string; digest: string }> {
  return insertApiKey(db.prisma, PEPPER, orgId, { name: 'k', ...opts });
}

async function problemOf(p: Promise<unknown>): Promise<ProblemError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ProblemError) return e;
    throw e;
  }
  throw new Error('expected a ProblemError');
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const fails = async (v: ApiKeyVerifier, secret: string): Promise<boolean> => {
  try {
    await v.verify(secret);
    return false;
  } catch (e) {
    if (e instanceof ProblemError && e.status === 401) return true;
    throw e;
  }
};

beforeAll(async () => {
  db = await createTestDatabase('api_key_verifier');
  ({ orgId } = await seedDemo({ prisma: db.prisma, pepper: PEPPER }));
  env = parseEnv(rawEnv());
  redis = new RedisClient(new AppConfig(env));
}, 60_000);

afterAll(async () => {
  for (const s of started) {
    await s.verifier.onModuleDestroy();
    if (s.redis !== redis) await s.redis.onApplicationShutdown();
  }
  await dropRedisPrefix(prefix, redis.redis);
  await redis.onApplicationShutdown();
  await db?.drop();
});

describe('layered verification', () => {
  it('resolves a key from Postgres once; a warm key makes no query and no Redis round trip', async () => {
    const { secret, id } = await makeKey();
    const counted = countingPrisma(db.prisma);
    const r = new RedisClient(new AppConfig(env));
    const v = await startVerifier(counted.prisma, {}, r);
    const first = await v.verify(secret);
    expect(first).toMatchObject({ keyId: id, orgId, mode: 'live', scopes: ['predict'], expiresAt: null });
    expect(counted.ops).toEqual(['ApiKey.findUnique']);

    const commands = countCommands(r);
    try {
      for (let i = 0; i < 100; i++) expect((await v.verify(secret)).keyId).toBe(id);
      expect(commands.count()).toBe(0);
    } finally {
      commands.stop();
    }
    expect(counted.count()).toBe(1);

    // Another instance (cold in-process cache) finds it in Redis: one GET, no query.
    const counted2 = countingPrisma(db.prisma);
    const r2 = new RedisClient(new AppConfig(env));
    const v2 = await startVerifier(counted2.prisma, {}, r2);
    await until(async () => (await redis.redis.exists(apiKeyCacheKey(prefix, digestApiKey(secret, PEPPER)))) === 1, 2_000, 'the Redis entry');
    const commands2 = countCommands(r2);
    try {
      expect((await v2.verify(secret)).keyId).toBe(id);
      expect(commands2.count()).toBe(1);
    } finally {
      commands2.stop();
    }
    expect(counted2.count()).toBe(0);
  });

  it('caches unknown keys briefly in process and in Redis: a flood makes one query', async () => {
    const unknown = generateApiKey('test').secret;
    const counted = countingPrisma(db.prisma);
    const v = await startVerifier(counted.prisma);
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => v.verify(unknown)));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof ProblemError && r.reason.status === 401)).toBe(true);
    expect(counted.count()).toBe(1);

    const digest = digestApiKey(unknown, PEPPER);
    await until(async () => (await redis.redis.exists(apiKeyCacheKey(prefix, digest))) === 1, 2_000, 'the negative Redis entry');
    const ttl = await redis.redis.pttl(apiKeyCacheKey(prefix, digest));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
    const counted2 = countingPrisma(db.prisma);
    const v2 = await startVerifier(counted2.prisma);
    expect(await fails(v2, unknown)).toBe(true);
    expect(counted2.count()).toBe(0);
  });

  it('answers the same 401 for malformed, unknown, revoked and expired keys', async () => {
    const v = await startVerifier(db.prisma);
    const revoked = await makeKey();
    await db.prisma.apiKey.update({ where: { id: revoked.id }, data: { revokedAt: new Date() } });
    const expired = await makeKey({ expiresAt: new Date(Date.now() - 1_000) });
    const bodies = [];
    for (const secret of [null, 'sk_live_short', generateApiKey('live').secret, revoked.secret, expired.secret]) {
      const p = await problemOf(v.verify(secret));
      bodies.push({ status: p.status, code: p.code, detail: p.detail, headers: p.headers, body: p.toBody() });
    }
    expect(bodies[0]!.status).toBe(401);
    for (const b of bodies) expect(b).toEqual(bodies[0]);
  });
});

describe('verifyCached (the hot path, issue 10 item 9)', () => {
  it('answers from this instance\'s cache only: a warm, unexpired key; never a key that is unknown, malformed, expired or invalidated', async () => {
    const v = await startVerifier(db.prisma);
    const soon = Date.now() + 60_000;
    const k = await makeKey({ expiresAt: new Date(soon) });
    expect(v.verifyCached(k.secret)).toBeUndefined(); // cold: the caller takes verify()
    const key = await v.verify(k.secret);
    expect(v.verifyCached(k.secret)).toEqual(key);
    for (const secret of [null, 'sk_live_short', generateApiKey('live').secret]) expect(v.verifyCached(secret)).toBeUndefined();
    const unknown = generateApiKey('live').secret;
    await problemOf(v.verify(unknown)); // negatively cached now
    expect(v.verifyCached(unknown)).toBeUndefined();
    const realNow = Date.now.bind(Date);
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => Math.max(realNow(), soon));
    try {
      expect(v.verifyCached(k.secret)).toBeUndefined(); // expired while cached
    } finally {
      clock.mockRestore();
    }
    v.invalidate(k.digest);
    expect(v.verifyCached(k.secret)).toBeUndefined();
  });
});

describe('revocation', () => {
  it('a key revoked in Postgres keeps working from the caches until invalidateEverywhere, then fails on every instance', async () => {
    const { secret, id, digest } = await makeKey();
    const a = await startVerifier(db.prisma);
    const b = await startVerifier(db.prisma);
    await a.verify(secret);
    await b.verify(secret);
    await db.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    expect((await a.verify(secret)).keyId).toBe(id);
    expect((await b.verify(secret)).keyId).toBe(id);

    const t0 = Date.now();
    await a.invalidateEverywhere([digest]);
    expect(await fails(a, secret)).toBe(true);
    await until(() => fails(b, secret), 1_000, 'instance b to drop the key');
    expect(Date.now() - t0).toBeLessThan(1_000);
    // A fresh instance does not find a stale entry in Redis either.
    const c = await startVerifier(db.prisma);
    expect(await fails(c, secret)).toBe(true);
  });

  it('does not cache a load that began before an invalidation (in-flight race)', async () => {
    const { secret, id, digest } = await makeKey();
    // A client whose key lookups read the row, then wait for the test before answering.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let reads = 0;
    let readStarted: () => void = () => undefined;
    const started = new Promise<void>((r) => (readStarted = r));
    const gated = db.prisma.$extends({
      query: {
        apiKey: {
          async findUnique({ args, query }) {
            reads++;
            const row = await query(args);
            readStarted();
            await gate;
            return row;
          },
        },
      },
    }) as unknown as PrismaClient;
    const v = await startVerifier(gated);
    const inFlight = v.verify(secret);
    await started; // the row (still active) has been read
    await db.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    const other = await startVerifier(db.prisma);
    await other.invalidateEverywhere([digest]);
    await until(async () => (await redis.redis.get(apiKeyCacheKey(prefix, digest))) === 'invalidated', 1_000, 'the tombstone');
    // v learns of it through pub/sub: wait until its in-flight entry is dropped (a new verify starts a new read).
    release();
    expect((await inFlight).keyId).toBe(id); // began before the revocation: answered with what it read
    await until(async () => {
      const before = reads;
      const failed = await fails(v, secret);
      return failed && reads > before;
    }, 1_000, 'the stale result to be ignored');
    // Nor did the stale read land in Redis over the tombstone.
    expect(await redis.redis.get(apiKeyCacheKey(prefix, digest))).not.toMatch(/"k"/);
  });
});

describe('last used', () => {
  it('notes uses in memory and writes them all in one statement, never backwards', async () => {
    const k1 = await makeKey();
    const k2 = await makeKey({ mode: 'test' });
    const counted = countingPrisma(db.prisma);
    const v = await startVerifier(counted.prisma);
    for (let i = 0; i < 20; i++) {
      await v.verify(k1.secret);
      await v.verify(k2.secret);
    }
    const lookups = counted.count();
    expect(lookups).toBe(2);
    expect((await db.prisma.apiKey.findUniqueOrThrow({ where: { id: k1.id } })).lastUsedAt).toBeNull();
    const before = Date.now();
    await v.flushLastUsed();
    expect(counted.ops.slice(lookups)).toEqual(['.$executeRaw']);
    const rows = await db.prisma.apiKey.findMany({ where: { id: { in: [k1.id, k2.id] } } });
    for (const r of rows) {
      expect(r.lastUsedAt).not.toBeNull();
      expect(Math.abs(r.lastUsedAt!.getTime() - before)).toBeLessThan(5_000);
    }
    // Nothing pending: no statement at all.
    await v.flushLastUsed();
    expect(counted.count()).toBe(lookups + 1);
    // A later time set elsewhere is not overwritten by an older one.
    const future = new Date(Date.now() + 3_600_000);
    await db.prisma.apiKey.update({ where: { id: k1.id }, data: { lastUsedAt: future } });
    await v.verify(k1.secret);
    await v.flushLastUsed();
    expect((await db.prisma.apiKey.findUniqueOrThrow({ where: { id: k1.id } })).lastUsedAt).toEqual(future);
  });

  it('flushes on shutdown', async () => {
    const k = await makeKey();
    const v = await startVerifier(db.prisma);
    await v.verify(k.secret);
    await v.onModuleDestroy();
    expect((await db.prisma.apiKey.findUniqueOrThrow({ where: { id: k.id } })).lastUsedAt).toBeInstanceOf(Date);
  });
});

describe('brute-force throttle', () => {
  it(`answers 429 with Retry-After after ${THROTTLE} failures from one IP, but never to a valid key (issue 9 item 5); other IPs are unaffected`, async () => {
    const good = await makeKey();
    const v = await startVerifier(db.prisma);
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i < THROTTLE; i++) expect((await problemOf(v.verify(generateApiKey('live').secret, ip))).status).toBe(401);
    const refused = await problemOf(v.verify(generateApiKey('live').secret, ip));
    expect(refused.status).toBe(429);
    expect(refused.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Verified first: a valid key from the blocked address is accepted (others' failures behind a shared NAT do not lock it out).
    expect((await v.verify(good.secret, ip)).keyId).toBe(good.id);
    expect((await problemOf(v.verify(generateApiKey('live').secret, ip))).status).toBe(429);
    expect((await v.verify(good.secret, '198.51.100.251')).keyId).toBe(good.id);
    // Another instance shares the count: its first failure from that IP is refused too.
    const w = await startVerifier(db.prisma);
    expect((await problemOf(w.verify('sk_live_nope', ip))).status).toBe(429);
    // A missing key is not a guess and is not counted.
    for (let i = 0; i < THROTTLE + 2; i++) expect((await problemOf(w.verify(null, '198.51.100.252'))).status).toBe(401);
  });
});

describe('Redis down', () => {
  it('falls back to Postgres: valid keys pass, bad keys get 401, never a 500', async () => {
    // A "Redis" that accepts connections and never answers (a hung server: the worst case).
    const sockets = new Set<Socket>();
    const silent = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const dead = new RedisClient(new AppConfig(parseEnv({ ...rawEnv(), REDIS_URL: `redis://127.0.0.1:${port}` })));
    try {
      const k = await makeKey();
      const counted = countingPrisma(db.prisma);
      const v = await startVerifier(counted.prisma, {}, dead);
      expect((await v.verify(k.secret, '192.0.2.1')).keyId).toBe(k.id);
      expect((await v.verify(k.secret, '192.0.2.1')).keyId).toBe(k.id);
      expect(counted.count()).toBe(1);
      expect((await problemOf(v.verify(generateApiKey('live').secret, '192.0.2.1'))).status).toBe(401);
      await v.onModuleDestroy();
    } finally {
      await dead.onApplicationShutdown();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '#infra/config';
import { PrismaClient } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { RedisClient } from '#infra/redis';
import { FailureThrottle } from '#infra/throttle';
import { apiKeyCacheKey, decodeInvalidation, decodeSignedLookup, encodeSignedLookup, invalidationChannel, publishKeyInvalidation, type AuthenticatedKey, type CachedKey, type Lookup } from './key-cache.js';
import { digestApiKey, digestsEqual, parseApiKey } from './key-format.js';
import { LastUsedBuffer, lastUsedUpdate } from './last-used.js';
import { TtlCache } from './ttl-cache.js';

export type { AuthenticatedKey } from './key-cache.js';

/** Unknown keys are remembered this long in process... */
const NEGATIVE_TTL_MS = 2_000;
/** ...and this long in Redis (shared by every instance). */
const NEGATIVE_REDIS_TTL_MS = 5_000;
/** A Redis read slower than this counts as "Redis unavailable": verification goes on with Postgres. */
const REDIS_TIMEOUT_MS = 250;
/** How long start-up waits for the invalidation subscription before going on without it. */
const SUBSCRIBE_WAIT_MS = 2_000;
const IN_PROCESS_ENTRIES = 50_000;

export function unauthenticated(): ProblemError {
  // One answer for missing, malformed, unknown, revoked and expired keys.
  return new ProblemError('unauthenticated', 'Send a valid API key as "Authorization: Bearer sk_live_…" or "sk_test_…".', {
    headers: { 'www-authenticate': 'Bearer realm="stratum"' },
  });
}

/** Extracts the bearer token; null when absent or not a Bearer credential. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  return m ? m[1]! : null;
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Verifies API keys on the hot path. The key's digest (HMAC with the pepper) is looked up in
 * three layers: an in-process TtlCache (API_KEY_CACHE_TTL_MS), Redis (shared by every
 * instance, API_KEY_REDIS_CACHE_TTL_MS) and Postgres. Unknown keys are cached briefly in both
 * caches. Revocations reach every instance through Redis pub/sub (`invalidateEverywhere`).
 * Failed verifications are counted per client (IPv4 address, IPv6 /64; FailureThrottle) and
 * answered 429 past AUTH_THROTTLE_PER_MINUTE a minute; a valid key is verified first and
 * never refused by the throttle. "Last used" times are written in batches.
 */
@Injectable()
export class ApiKeyVerifier implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ApiKeyVerifier');
  private readonly cache = new TtlCache<Lookup>(IN_PROCESS_ENTRIES);
  /**
   * Secrets of keys that verified here, to their digest, for API_KEY_CACHE_TTL_MS: a repeated key
   * skips the HMAC on the hot path. Only keys found valid enter (a flood of made-up keys cannot
   * fill it); every invalidation empties it. The gateway holds the secrets of requests in flight
   * anyway; this keeps those of recently used keys a little longer (docs/SECURITY.md).
   */
  private readonly digests = new TtlCache<string>(IN_PROCESS_ENTRIES);
  /** One load per digest at a time (a burst of cold requests makes one query). */
  private readonly inflight = new Map<string, Promise<Lookup>>();
  /** Bumped by every invalidation: a load that began before it must not be cached. */
  private generation = 0;
  private readonly throttle: FailureThrottle;
  private readonly lastUsed = new LastUsedBuffer();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private subscriber: Redis | undefined;
  private redisDown = false;

  constructor(
    private readonly config: AppConfig,
    private readonly db: PrismaClient,
    private readonly redis: RedisClient,
  ) {
    this.throttle = new FailureThrottle(redis, { name: 'api-key', limit: config.env.AUTH_THROTTLE_PER_MINUTE, windowSeconds: 60, ipSubjects: true });
  }

  async onModuleInit(): Promise<void> {
    this.flushTimer = setInterval(() => void this.flushLastUsed(), this.config.env.API_KEY_LAST_USED_FLUSH_MS);
    this.flushTimer.unref();
    await this.subscribe();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.flushTimer);
    this.subscriber?.disconnect();
    this.subscriber = undefined;
    await this.flushLastUsed();
  }

  /**
   * The key behind `secret`, or 401 (the same answer whatever the reason). With `ip`, failures
   * are counted for that client and a failure from a client past the limit gets 429 with
   * Retry-After; a valid key is accepted whatever the client's count.
   */
  async verify(secret: string | null, ip?: string): Promise<AuthenticatedKey> {
    // The throttle is consulted only once verification failed: a valid key is never refused
    // because of other clients' failures behind the same address.
    if (secret === null) throw unauthenticated();
    if (parseApiKey(secret) === null) return this.reject(ip);
    const digest = digestApiKey(secret, this.config.env.API_KEY_PEPPER);
    const hit = this.cache.get(digest);
    const found = hit ? hit.value : await this.lookup(digest);
    if (found === null || !digestsEqual(found.digest, digest)) return this.reject(ip);
    const now = Date.now();
    if (found.key.expiresAt !== null && found.key.expiresAt <= now) return this.reject(ip);
    this.lastUsed.note(found.key.keyId, now);
    return found.key;
  }

  /**
   * The hot path's synchronous half of `verify`: the key behind `secret` when this instance has it
   * cached (valid and unexpired), else undefined: then call `verify`, which looks it up or refuses
   * (a missing, malformed, unknown or expired key always takes that path, with its throttle).
   */
  verifyCached(secret: string | null): AuthenticatedKey | undefined {
    if (secret === null) return undefined;
    const known = this.digests.get(secret)?.value;
    let digest: string;
    if (known !== undefined) digest = known;
    else if (parseApiKey(secret) === null) return undefined;
    else digest = digestApiKey(secret, this.config.env.API_KEY_PEPPER);
    // The cache is keyed by the digest: an entry found is this key's (no second comparison needed).
    const found = this.cache.get(digest)?.value;
    if (!found) return undefined;
    const now = Date.now();
    if (found.key.expiresAt !== null && found.key.expiresAt <= now) return undefined;
    if (known === undefined) this.digests.set(secret, digest, this.config.env.API_KEY_CACHE_TTL_MS);
    this.lastUsed.note(found.key.keyId, now);
    return found.key;
  }

  /** Forgets keys on this instance only (prefer invalidateEverywhere). */
  invalidate(digest: string): void {
    this.dropLocal([digest]);
  }

  /**
   * Makes every instance forget these key digests within about a second: tombstones the
   * Redis entries and publishes the digests; call it after committing the change (revoke,
   * roll, scope change). Rejects (503) when Redis cannot be reached within 2 s.
   */
  async invalidateEverywhere(digests: string[]): Promise<void> {
    if (digests.length === 0) return;
    this.dropLocal(digests);
    try {
      await timeout(publishKeyInvalidation(this.redis.redis, this.redis.prefix, digests), 2_000, 'redis');
    } catch (e) {
      throw new ProblemError('service_unavailable', 'The change is saved but could not be announced to every gateway yet; it takes effect everywhere within the cache lifetime.', {
        headers: { 'retry-after': '1' },
        cause: e,
      });
    }
  }

  /** Writes the pending "last used" times in one statement (also runs on a timer and at shutdown). */
  async flushLastUsed(): Promise<void> {
    const run = this.flushing.then(async () => {
      const batch = this.lastUsed.swap();
      if (batch.size === 0) return;
      try {
        await this.db.$executeRaw(lastUsedUpdate(batch));
      } catch (e) {
        this.lastUsed.restore(batch);
        this.logger.warn(`could not write last-used times of ${batch.size} key(s): ${message(e)}`);
      }
    });
    this.flushing = run;
    return run;
  }

  private async reject(ip: string | undefined): Promise<never> {
    if (ip !== undefined) {
      this.throttle.checkLocal(ip); // an already blocked client: 429 without a Redis round trip
      await this.throttle.fail(ip); // throws 429 past the limit
    }
    throw unauthenticated();
  }

  private lookup(digest: string): Promise<Lookup> {
    const pending = this.inflight.get(digest);
    if (pending) return pending;
    const p = this.load(digest).finally(() => {
      if (this.inflight.get(digest) === p) this.inflight.delete(digest);
    });
    this.inflight.set(digest, p);
    return p;
  }

  private async load(digest: string): Promise<Lookup> {
    const generation = this.generation;
    let found = await this.fromRedis(digest);
    const fromDb = found === undefined;
    if (found === undefined) found = await this.fromPostgres(digest);
    if (generation === this.generation) {
      this.cache.set(digest, found, found ? this.config.env.API_KEY_CACHE_TTL_MS : NEGATIVE_TTL_MS);
      if (fromDb) void this.toRedis(digest, found);
    }
    return found;
  }

  private redisUsable(): boolean {
    return this.redis.redis.status === 'ready';
  }

  private redisFailed(e: unknown): void {
    if (this.redisDown) return;
    this.redisDown = true;
    this.logger.warn(`Redis unavailable, verifying API keys against Postgres: ${message(e)}`);
  }

  private redisOk(): void {
    if (!this.redisDown) return;
    this.redisDown = false;
    this.logger.log('Redis reachable again: API-key cache back in use');
  }

  private async fromRedis(digest: string): Promise<Lookup | undefined> {
    if (!this.redisUsable()) {
      this.redisFailed(new Error(`connection ${this.redis.redis.status}`));
      return undefined;
    }
    try {
      const raw = await timeout(this.redis.redis.get(apiKeyCacheKey(this.redis.prefix, digest)), REDIS_TIMEOUT_MS, 'redis');
      this.redisOk();
      return decodeSignedLookup(this.redis.signer, this.redis.prefix, digest, raw);
    } catch (e) {
      this.redisFailed(e);
      return undefined;
    }
  }

  private async toRedis(digest: string, value: Lookup): Promise<void> {
    if (!this.redisUsable()) return;
    const ttl = value ? this.config.env.API_KEY_REDIS_CACHE_TTL_MS : NEGATIVE_REDIS_TTL_MS;
    if (ttl <= 0) return;
    try {
      // NX: an invalidation tombstone (or a fresher entry) wins over this possibly older read.
      await timeout(this.redis.redis.set(apiKeyCacheKey(this.redis.prefix, digest), encodeSignedLookup(this.redis.signer, this.redis.prefix, digest, value), 'PX', ttl, 'NX'), REDIS_TIMEOUT_MS, 'redis');
    } catch (e) {
      this.redisFailed(e);
    }
  }

  private async fromPostgres(digest: string): Promise<Lookup> {
    let row;
    try {
      row = await this.db.apiKey.findUnique({
        where: { digest },
        select: {
          id: true,
          digest: true,
          orgId: true,
          mode: true,
          scopes: true,
          expiresAt: true,
          revokedAt: true,
          rateLimitPerMinute: true,
          org: { select: { billingStatus: true, plan: { select: { queuePriority: true, rateLimitPerMinute: true, rateLimitBurst: true, maxConcurrentPredictions: true, monthlyQuotaUnits: true, quotaOverage: true } } } },
        },
      });
    } catch (e) {
      throw new ProblemError('service_unavailable', 'API keys cannot be verified right now; retry shortly.', { headers: { 'retry-after': '1' }, cause: e });
    }
    if (!row || row.revokedAt !== null) return null;
    const cached: CachedKey = {
      digest: row.digest,
      key: {
        keyId: row.id,
        orgId: row.orgId,
        mode: row.mode,
        scopes: row.scopes,
        expiresAt: row.expiresAt?.getTime() ?? null,
        queuePriority: row.org.plan.queuePriority,
        rateLimitPerMinute: Math.min(row.rateLimitPerMinute ?? Infinity, row.org.plan.rateLimitPerMinute),
        orgRateLimitPerMinute: row.org.plan.rateLimitPerMinute,
        rateLimitBurst: row.org.plan.rateLimitBurst,
        maxConcurrentPredictions: row.org.plan.maxConcurrentPredictions,
        monthlyQuotaUnits: row.org.plan.monthlyQuotaUnits,
        quotaOverage: row.org.plan.quotaOverage,
        billingStatus: row.org.billingStatus,
      },
    };
    return cached;
  }

  private dropLocal(digests: readonly string[]): void {
    this.generation++;
    this.digests.clear();
    for (const d of digests) {
      this.cache.delete(d);
      this.inflight.delete(d);
    }
  }

  private dropAllLocal(): void {
    this.generation++;
    this.digests.clear();
    this.cache.clear();
    this.inflight.clear();
  }

  /** Own connection (a subscribed connection can do nothing else); resubscribes by itself after a reconnect. */
  private async subscribe(): Promise<void> {
    const channel = invalidationChannel(this.redis.prefix);
    const sub = this.redis.redis.duplicate({ connectionName: 'stratum-apikey-invalidation' });
    this.subscriber = sub;
    let connectedBefore = false;
    let errorLogged = false;
    sub.on('message', (ch: string, msg: string) => {
      if (ch === channel) this.dropLocal(decodeInvalidation(msg));
    });
    sub.on('ready', () => {
      errorLogged = false;
      // Invalidations published while we were away are lost: start over from the shared layers.
      if (connectedBefore) {
        this.dropAllLocal();
        this.logger.log('invalidation channel reconnected: in-process key cache cleared');
      }
      connectedBefore = true;
    });
    sub.on('error', (e: Error) => {
      if (errorLogged) return;
      errorLogged = true;
      this.logger.warn(`invalidation channel: ${e.message}`);
    });
    const subscribed = sub.subscribe(channel);
    try {
      await timeout(subscribed, SUBSCRIBE_WAIT_MS, 'subscribe');
    } catch (e) {
      // Redis is down at start: keep starting; ioredis subscribes once it connects.
      subscribed.catch(() => undefined);
      this.logger.warn(`not yet subscribed to key invalidations (${message(e)}); in-process entries still expire after ${this.config.env.API_KEY_CACHE_TTL_MS} ms`);
    }
  }
}

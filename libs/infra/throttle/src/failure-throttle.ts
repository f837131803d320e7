import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ProblemError } from '#infra/errors';
import type { RedisClient } from '#infra/redis';
import { clientSubject } from './client-subject.js';

export interface FailureThrottleOptions {
  /** Names the counter family in Redis (`<prefix>:throttle:<name>:<hash>`), e.g. "api-key" or "login". */
  name: string;
  /** Failures allowed per window; the subject is refused once it has this many. */
  limit: number;
  windowSeconds: number;
  /** Subjects are client addresses: counted per IPv4 address and per IPv6 /64 (see clientSubject). */
  ipSubjects?: boolean;
}

/** Redis commands that take longer than this count as "Redis unavailable" (the throttle then counts in process). */
const REDIS_TIMEOUT_MS = 250;
/** Bound of the in-process maps (blocked subjects, fallback counters). */
const MAX_LOCAL_ENTRIES = 10_000;

/** Hashes a subject (any characters, any length) into a short, key-safe token. */
export function subjectToken(subject: string, ipSubjects = false): string {
  if (ipSubjects) subject = clientSubject(subject);
  return createHash('sha256').update(subject).digest('base64url').slice(0, 22);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Drops expired entries; if still too big, the oldest ones. */
function prune(map: Map<string, { until: number }>, now: number): void {
  if (map.size < MAX_LOCAL_ENTRIES) return;
  for (const [k, v] of map) if (v.until <= now) map.delete(k);
  for (const k of map.keys()) {
    if (map.size < MAX_LOCAL_ENTRIES) break;
    map.delete(k);
  }
}

/**
 * Counts failures (bad logins, bad API keys) per subject (e.g. an IP) in fixed windows
 * kept in Redis, so every instance sees the same count. A subject with `limit` failures in
 * the current window is refused with 429 and Retry-After until the window ends; the
 * refusal is remembered in process, so a blocked subject costs no Redis round trip.
 * When Redis is unreachable it counts in process (per instance) rather than failing.
 */
export class FailureThrottle {
  private readonly blocked = new Map<string, { until: number }>();
  private readonly localCounts = new Map<string, { count: number; until: number }>();
  private warned = false;
  private readonly logger: Logger;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: FailureThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.logger = new Logger(`FailureThrottle:${options.name}`);
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new Error('FailureThrottle: limit must be a positive integer');
    if (!Number.isInteger(options.windowSeconds) || options.windowSeconds < 1) throw new Error('FailureThrottle: windowSeconds must be a positive integer');
  }

  /** Throws 429 when the subject is over the limit. Local block first (no Redis), then the shared counter. */
  async check(subject: string): Promise<void> {
    const token = subjectToken(subject, this.options.ipSubjects);
    this.checkLocalToken(token);
    const state = await this.readShared(token);
    if (state.count >= this.options.limit) this.block(token, state.ttlMs);
  }

  /**
   * Refuses (429) a subject this process already knows to be blocked, without any I/O.
   * Hot paths call this instead of `check` and rely on `fail` to learn of new blocks.
   */
  checkLocal(subject: string): void {
    if (this.blocked.size === 0) return; // the common case: no hashing at all
    this.checkLocalToken(subjectToken(subject, this.options.ipSubjects));
  }

  /** Records one failure; throws 429 when this failure takes the subject past the limit. */
  async fail(subject: string): Promise<void> {
    const token = subjectToken(subject, this.options.ipSubjects);
    const { count, ttlMs } = await this.incrementShared(token);
    if (count > this.options.limit) this.block(token, ttlMs);
    if (count === this.options.limit) this.remember(token, ttlMs); // the next attempt is refused
  }

  /** Forgets the subject's failures (e.g. after a successful login). */
  async reset(subject: string): Promise<void> {
    const token = subjectToken(subject, this.options.ipSubjects);
    this.blocked.delete(token);
    this.localCounts.delete(token);
    if (this.redis.redis.status !== 'ready') return;
    try {
      await withTimeout(this.redis.redis.del(this.key(token)), REDIS_TIMEOUT_MS);
    } catch (e) {
      this.warn(e);
    }
  }

  private key(token: string): string {
    return this.redis.key('throttle', this.options.name, token);
  }

  private checkLocalToken(token: string): void {
    const b = this.blocked.get(token);
    if (!b) return;
    const left = b.until - this.now();
    if (left > 0) throw this.refusal(left);
    this.blocked.delete(token);
  }

  private remember(token: string, ttlMs: number): void {
    const now = this.now();
    prune(this.blocked, now);
    this.blocked.set(token, { until: now + Math.max(ttlMs, 1) });
  }

  private block(token: string, ttlMs: number): never {
    this.remember(token, ttlMs);
    throw this.refusal(ttlMs);
  }

  private refusal(ms: number): ProblemError {
    const seconds = Math.max(1, Math.ceil(ms / 1000));
    return new ProblemError('rate_limited', `Too many failed attempts; retry in ${seconds} s.`, {
      headers: { 'retry-after': String(seconds) },
      extensions: { retry_after: seconds },
    });
  }

  // Redis is used only while the connection is up: ioredis would otherwise queue the command until it is.
  private async readShared(token: string): Promise<{ count: number; ttlMs: number }> {
    if (this.redis.redis.status === 'ready') {
      try {
        const key = this.key(token);
        const res = await withTimeout(this.redis.redis.multi().get(key).pttl(key).exec(), REDIS_TIMEOUT_MS);
        this.warned = false;
        const count = Number(res?.[0]?.[1] ?? 0);
        const ttl = Number(res?.[1]?.[1] ?? -2);
        return { count: Number.isFinite(count) ? count : 0, ttlMs: ttl > 0 ? ttl : this.options.windowSeconds * 1000 };
      } catch (e) {
        this.warn(e);
      }
    }
    const local = this.localCounts.get(token);
    const now = this.now();
    return local && local.until > now ? { count: local.count, ttlMs: local.until - now } : { count: 0, ttlMs: 0 };
  }

  private async incrementShared(token: string): Promise<{ count: number; ttlMs: number }> {
    if (this.redis.redis.status === 'ready') {
      try {
        const key = this.key(token);
        // Fixed window: the first failure starts the window (EXPIRE NX never extends it).
        const res = await withTimeout(this.redis.redis.multi().incr(key).expire(key, this.options.windowSeconds, 'NX').pttl(key).exec(), REDIS_TIMEOUT_MS);
        const err = res?.find(([e]) => e !== null)?.[0];
        if (err) throw err;
        this.warned = false;
        const ttl = Number(res?.[2]?.[1] ?? -1);
        return { count: Number(res?.[0]?.[1]), ttlMs: ttl > 0 ? ttl : this.options.windowSeconds * 1000 };
      } catch (e) {
        this.warn(e);
      }
    }
    const now = this.now();
    let local = this.localCounts.get(token);
    if (!local || local.until <= now) {
      if (this.localCounts.size >= MAX_LOCAL_ENTRIES) prune(this.localCounts, now);
      local = { count: 0, until: now + this.options.windowSeconds * 1000 };
      this.localCounts.set(token, local);
    }
    local.count++;
    return { count: local.count, ttlMs: local.until - now };
  }

  private warn(e: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(`Redis unavailable, counting failures in process: ${e instanceof Error ? e.message : String(e)}`);
  }
}

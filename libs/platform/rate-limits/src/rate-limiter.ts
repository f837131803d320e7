import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { ProblemError } from '#infra/errors';
import { MetricsRegistry } from '#infra/metrics';
import { RedisClient } from '#infra/redis';
import { keyPolicy, leaseSize, rateLimitItem, rateLimitPolicyField, retryAfterSeconds, type BucketState, type RatePolicy } from './gcra.js';

/** What the limiter needs to know of a verified key (a subset of #platform/api-keys' AuthenticatedKey). */
export interface RateLimitSubject {
  keyId: string;
  orgId: string;
  mode: 'live' | 'test';
  /** The key's effective rate: its own override, or the plan's organization rate. */
  rateLimitPerMinute: number;
  orgRateLimitPerMinute: number;
  rateLimitBurst: number;
}

/** A leased request stays usable this long; then what is left is refunded with the next call. */
export const LEASE_MS = 500;
const REDIS_TIMEOUT_MS = 250;
const MAX_LOCAL_ENTRIES = 100_000;

/**
 * One atomic call for both buckets (key, organization): refunds the caller's unused lease,
 * then grants min(want, what each bucket still holds) and charges both, or nothing. The clock
 * is Redis's (TIME), so every gateway instance decides against the same time. Same arithmetic
 * as gcraTake (gcra.ts). Returns granted, key remaining, key reset ms, org remaining, org reset
 * ms, retry ms, and the refused bucket ("key" / "organization", or "").
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = tonumber(ARGV[5])
local refund = tonumber(ARGV[6])
local function bucket(k, T, B)
  local base = math.max(tonumber(redis.call('GET', k) or '0'), now)
  if refund > 0 then base = math.max(now, base - refund * T) end
  local avail = math.floor((B * T - (base - now)) / T + 1e-9)
  if avail < 0 then avail = 0 end
  return base, avail
end
local kT, kB, oT, oB = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local kb, ka = bucket(KEYS[1], kT, kB)
local ob, oa = bucket(KEYS[2], oT, oB)
local g = math.min(want, ka, oa)
if g < 1 then
  if refund > 0 then
    redis.call('SET', KEYS[1], string.format('%.3f', kb), 'PX', math.ceil(kb - now) + 1000)
    redis.call('SET', KEYS[2], string.format('%.3f', ob), 'PX', math.ceil(ob - now) + 1000)
  end
  local kr = math.max(0, kb + kT - now - kB * kT)
  local orr = math.max(0, ob + oT - now - oB * oT)
  local which = 'organization'
  if ka < 1 and (oa >= 1 or kr >= orr) then which = 'key' end
  return {0, ka, math.ceil(kb - now), oa, math.ceil(ob - now), math.ceil(math.max(ka < 1 and kr or 0, oa < 1 and orr or 0)), which}
end
local kn = kb + g * kT
local on = ob + g * oT
redis.call('SET', KEYS[1], string.format('%.3f', kn), 'PX', math.ceil(kn - now) + 1000)
redis.call('SET', KEYS[2], string.format('%.3f', on), 'PX', math.ceil(on - now) + 1000)
return {g, ka - g, math.ceil(kn - now), oa - g, math.ceil(on - now), 0, ''}
`;

type TakeReply = [number, number, number, number, number, number, string];

/** One key's local lease and what Redis last said of its buckets. */
interface Local {
  tokens: number;
  expires: number;
  /** Requests served since the last Redis call (sizes the next lease). */
  consumed: number;
  /** min(key, organization) remaining at the last Redis answer. */
  lastRemaining: number;
  at: number;
  key: BucketState;
  org: BucketState;
  /** Requests waiting for the Redis call in flight (at most one per key and gateway). */
  waiters: { resolve: (h: RateLimitHeaders) => void; reject: (e: unknown) => void }[];
  busy: boolean;
  /** The RateLimit-Policy field of `key` and `org`, built once per Redis answer. */
  policyField?: string | undefined;
}

export type RateLimitHeaders = Record<string, string>;

/**
 * Requests per key and per organization (and mode), GCRA in Redis with local leases: far from
 * its limit a key spends requests leased in batches (no Redis round trip per request), near
 * it every request is one atomic script call (exact across gateway instances). See gcra.ts
 * for the sizing rule and README "Rate limits".
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger('RateLimiter');
  private readonly local = new Map<string, Local>();
  private readonly redisCalls: Counter;
  private readonly refused: Counter<'limit'>;
  private warned = false;

  constructor(
    private readonly redis: RedisClient,
    metrics: MetricsRegistry,
  ) {
    this.redis.redis.defineCommand('stratumRateTake', { numberOfKeys: 2, lua: TAKE_SCRIPT });
    this.redisCalls = new Counter({ name: 'stratum_rate_limit_redis_calls_total', help: 'Rate-limit decisions that went to Redis (leases and exact checks)', registers: [metrics.registry] });
    this.refused = new Counter({ name: 'stratum_rate_limited_total', help: 'Requests refused by a rate limit or the concurrency cap', labelNames: ['limit'], registers: [metrics.registry] });
  }

  /** Counts a concurrency refusal (the concurrency limiter shares the metric). */
  countRefusal(limit: 'key' | 'organization' | 'concurrency'): void {
    this.refused.inc({ limit });
  }

  /**
   * The hot path's synchronous half of `admit`: admits one request of `s` from its local lease
   * (a key far from its limit) and returns its headers, or returns undefined when that needs Redis
   * or a wait (then call `admit`, which decides). Never refuses.
   */
  admitLocal(s: RateLimitSubject): RateLimitHeaders | undefined {
    const l = this.local.get(s.keyId);
    if (l === undefined || l.tokens <= 0 || l.waiters.length !== 0) return undefined;
    const now = Date.now();
    if (now >= l.expires) return undefined;
    l.tokens--;
    l.consumed++;
    return this.headers(l, now);
  }

  /** Admits one request of `s` or throws 429 `rate_limited`; returns the RateLimit header fields to send. */
  async admit(s: RateLimitSubject): Promise<RateLimitHeaders> {
    const local = this.admitLocal(s);
    if (local !== undefined) return local;
    const now = Date.now();
    let l = this.local.get(s.keyId);
    if (!l) {
      if (this.local.size >= MAX_LOCAL_ENTRIES) this.local.clear();
      const org: RatePolicy = { perMinute: s.orgRateLimitPerMinute, burst: s.rateLimitBurst };
      const key = keyPolicy(s.rateLimitPerMinute, org);
      l = { tokens: 0, expires: 0, consumed: 0, lastRemaining: 0, at: now, key: { name: 'key', policy: key, remaining: 0, resetMs: 0 }, org: { name: 'organization', policy: org, remaining: 0, resetMs: 0 }, waiters: [], busy: false };
      this.local.set(s.keyId, l);
    }
    const state = l;
    return new Promise<RateLimitHeaders>((resolve, reject) => {
      state.waiters.push({ resolve, reject });
      if (!state.busy) void this.pump(s, state);
    });
  }

  /**
   * One Redis call at a time per key: the requests that arrive meanwhile wait for it, and the
   * next call asks for all of them at once (near the limit exactly that many, so every request
   * charged in Redis is a request served: no lease strands what another gateway could use).
   */
  private async pump(s: RateLimitSubject, l: Local): Promise<void> {
    l.busy = true;
    try {
      for (;;) {
        let now = Date.now();
        while (l.tokens > 0 && now < l.expires && l.waiters.length) {
          l.tokens--;
          l.consumed++;
          l.waiters.shift()!.resolve(this.headers(l, now));
        }
        if (!l.waiters.length) return;
        const org: RatePolicy = { perMinute: s.orgRateLimitPerMinute, burst: s.rateLimitBurst };
        const key = keyPolicy(s.rateLimitPerMinute, org);
        const refund = l.tokens; // what an expired lease did not use
        l.tokens = 0;
        const want = Math.max(l.waiters.length, leaseSize(l.lastRemaining, l.consumed));
        const reply = await this.take(s, key, org, want, refund);
        now = Date.now();
        if (reply === null) {
          // Redis unavailable: admitted without a decision (fail open), no headers.
          for (const w of l.waiters.splice(0)) w.resolve({});
          return;
        }
        const [granted, keyRemaining, keyReset, orgRemaining, orgReset, retryMs, which] = reply;
        l.key = { name: 'key', policy: key, remaining: keyRemaining, resetMs: keyReset };
        l.org = { name: 'organization', policy: org, remaining: orgRemaining, resetMs: orgReset };
        l.policyField = undefined;
        l.lastRemaining = Math.min(keyRemaining, orgRemaining);
        l.at = now;
        l.consumed = 0;
        if (granted < 1) {
          const limit = which === 'key' ? 'key' : 'organization';
          const p = limit === 'key' ? key : org;
          const retry = retryAfterSeconds(retryMs);
          const headers = { ...this.headers(l, now), 'retry-after': String(retry) };
          for (const w of l.waiters.splice(0)) {
            this.refused.inc({ limit });
            w.reject(
              new ProblemError('rate_limited', `Rate limit of the ${limit === 'key' ? 'API key' : 'organization'} reached (${Math.floor(p.perMinute)} requests per minute, bursts of ${p.burst}); retry in ${retry} s.`, {
                extensions: { limit },
                headers,
              }),
            );
          }
          return;
        }
        l.tokens = granted;
        l.expires = now + LEASE_MS;
      }
    } catch (e) {
      for (const w of l.waiters.splice(0)) w.reject(e);
    } finally {
      l.busy = false;
    }
  }

  private headers(l: Local, now: number): RateLimitHeaders {
    const elapsed = now - l.at;
    // The policy field changes only with a Redis answer: kept on the lease; the counts per request.
    return {
      'ratelimit-policy': (l.policyField ??= rateLimitPolicyField([l.key, l.org])),
      ratelimit: `${rateLimitItem('key', l.key.remaining + l.tokens, l.key.resetMs - elapsed)}, ${rateLimitItem('organization', l.org.remaining + l.tokens, l.org.resetMs - elapsed)}`,
    };
  }

  private async take(s: RateLimitSubject, key: RatePolicy, org: RatePolicy, want: number, refund: number): Promise<TakeReply | null> {
    this.redisCalls.inc();
    const r = this.redis.redis as unknown as { stratumRateTake(...args: (string | number)[]): Promise<TakeReply> };
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await Promise.race([
        r.stratumRateTake(
          this.redis.key('rl', s.mode, 'key', s.keyId),
          this.redis.key('rl', s.mode, 'org', s.orgId),
          60_000 / key.perMinute,
          key.burst,
          60_000 / org.perMinute,
          org.burst,
          want,
          refund,
        ),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), REDIS_TIMEOUT_MS);
        }),
      ]);
      this.warned = false;
      return reply.map((v, i) => (i < 6 ? Number(v) : String(v))) as TakeReply;
    } catch (e) {
      if (!this.warned) this.logger.warn(`rate limits not enforced while Redis fails: ${e instanceof Error ? e.message : String(e)}`);
      this.warned = true;
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}


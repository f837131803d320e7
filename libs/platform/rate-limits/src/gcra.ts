// The rate-limit decision as plain functions: GCRA (the generic cell rate algorithm, a token
// bucket kept as one timestamp), lease sizing, and the IETF RateLimit header fields. The Lua
// script in rate-limiter.ts runs the same arithmetic inside Redis; these functions are what
// the unit tests pin down and what the local (lease) path uses.

/** One bucket's policy: a sustained rate and how many requests may arrive at once. */
export interface RatePolicy {
  /** Requests per minute (the sustained rate). */
  perMinute: number;
  /** Requests that may be sent back to back when the bucket is full (at least 1). */
  burst: number;
}

/** Milliseconds one request costs: the emission interval T of GCRA. */
export function emissionMs(p: RatePolicy): number {
  return 60_000 / p.perMinute;
}

/**
 * The burst of a key: the organization's burst scaled by the key's share of the organization's
 * rate (a key limited to a tenth of the rate gets a tenth of the burst), at least 1.
 */
export function keyPolicy(keyPerMinute: number, org: RatePolicy): RatePolicy {
  if (!(keyPerMinute < org.perMinute)) return { ...org };
  return { perMinute: keyPerMinute, burst: Math.max(1, Math.floor((org.burst * keyPerMinute) / org.perMinute)) };
}

/** The outcome of asking one bucket for up to `want` requests at `now` (ms). */
export interface Grant {
  /** Requests granted (0 = refused). */
  granted: number;
  /** The bucket's theoretical arrival time after the grant (unchanged when refused). */
  tat: number;
  /** Requests that could still be sent right now after the grant. */
  remaining: number;
  /** Ms until the bucket is full again (the draft's `t`). */
  resetMs: number;
  /** When refused: ms until one request would be allowed. */
  retryMs: number;
}

/**
 * GCRA for up to `want` requests: each costs T = 60 s / rate, the bucket holds `burst` of them,
 * its state is the theoretical arrival time `tat` (ms; 0 or anything in the past = full). A
 * request is allowed when the new tat stays within burst·T of now: `max(tat, now) + n·T - now <= burst·T`.
 * `refund` (leased and unused requests) is given back first, never below `now`.
 */
export function gcraTake(tat: number, now: number, p: RatePolicy, want: number, refund = 0): Grant {
  const t = emissionMs(p);
  const capacity = p.burst * t;
  let base = Math.max(tat, now);
  if (refund > 0) base = Math.max(now, base - refund * t);
  const available = Math.floor((capacity - (base - now)) / t + 1e-9);
  const granted = Math.max(0, Math.min(want, available));
  if (granted === 0) {
    return { granted: 0, tat: base, remaining: 0, resetMs: Math.ceil(base - now), retryMs: Math.ceil(base + t - now - capacity) };
  }
  const next = base + granted * t;
  return { granted, tat: next, remaining: available - granted, resetMs: Math.ceil(next - now), retryMs: 0 };
}

/** A lease of more than one request is only taken while at least this many remain after it. */
export const LEASE_MIN_REMAINING = 64;
/** A lease takes at most this share of what remains. */
export const LEASE_MAX_SHARE = 1 / 8;
/** And never more than this many requests. */
export const LEASE_MAX = 256;

/**
 * How many requests to lease from Redis at once. Near the limit (fewer than LEASE_MIN_REMAINING
 * left at the last answer) every request asks Redis for exactly one: the decision is then
 * exact across gateway instances. Far from it, the lease follows this instance's demand (what
 * the previous lease consumed, doubled), bounded by a share of what remains and by LEASE_MAX.
 */
export function leaseSize(lastRemaining: number, lastConsumed: number): number {
  if (lastRemaining < LEASE_MIN_REMAINING) return 1;
  const demand = Math.max(1, lastConsumed * 2);
  return Math.max(1, Math.min(demand, Math.floor(lastRemaining * LEASE_MAX_SHARE), LEASE_MAX));
}

/** What one bucket tells the client (draft-ietf-httpapi-ratelimit-headers-11). */
export interface BucketState {
  name: 'key' | 'organization';
  policy: RatePolicy;
  remaining: number;
  resetMs: number;
}

/** Seconds, rounded up, at least 0 (the draft's integers). */
const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

/**
 * The `RateLimit-Policy` and `RateLimit` fields (structured-field lists, one item per bucket):
 * `"key";q=60;w=60` (q requests per w seconds, the sustained rate) and `"key";r=12;t=3`
 * (r requests may be sent now, the bucket is full again in t seconds).
 */
export function rateLimitHeaders(buckets: readonly BucketState[]): { 'ratelimit-policy': string; ratelimit: string } {
  return { 'ratelimit-policy': rateLimitPolicyField(buckets), ratelimit: buckets.map((b) => rateLimitItem(b.name, b.remaining, b.resetMs)).join(', ') };
}

/** The `RateLimit-Policy` field alone (it changes only with the policies: callers may keep it). */
export function rateLimitPolicyField(buckets: readonly Pick<BucketState, 'name' | 'policy'>[]): string {
  return buckets.map((b) => `"${b.name}";q=${Math.floor(b.policy.perMinute)};w=60`).join(', ');
}

/** One item of the `RateLimit` field: `"key";r=12;t=3`. */
export function rateLimitItem(name: BucketState['name'], remaining: number, resetMs: number): string {
  return `"${name}";r=${Math.max(0, Math.floor(remaining))};t=${seconds(resetMs)}`;
}

/** Retry-After for a refusal: whole seconds, at least 1. */
export function retryAfterSeconds(retryMs: number): number {
  return Math.max(1, Math.ceil(retryMs / 1000));
}

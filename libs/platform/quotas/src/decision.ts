/**
 * The quota decision, specified once. `used` are settled units of the period, `reserved` the
 * units held by predictions admitted and not yet finished, `n` the units the new one reserves.
 *
 *   refused  ⇔  limit ≠ null  ∧  (used + reserved ≥ limit  ∨  used + reserved + n > limit)
 *
 * i.e. at the limit (`used + reserved >= limit`) everything is refused, and below it a
 * reservation is admitted only if it fits whole. A plan with `overage: 'allow'` is never
 * refused: what is admitted past the limit is overage, billed later. RESERVE_SCRIPT below is
 * the same rule in Lua (test/integration/quotas.spec.ts runs both on the same table).
 */
export type Overage = 'block' | 'allow';

export interface QuotaLimit {
  /** Units per period; null = unlimited. */
  limit: number | null;
  overage: Overage;
}

export interface QuotaState {
  used: number;
  reserved: number;
}

export interface QuotaDecision {
  admitted: boolean;
  /** Units of this reservation beyond the limit (0 when within it or refused). */
  overageUnits: number;
}

export function overLimit(state: QuotaState, n: number, limit: number | null): boolean {
  if (limit === null) return false;
  const consumed = state.used + state.reserved;
  return consumed >= limit || consumed + n > limit;
}

export function decide(state: QuotaState, n: number, q: QuotaLimit): QuotaDecision {
  const over = overLimit(state, n, q.limit);
  if (over && q.overage === 'block') return { admitted: false, overageUnits: 0 };
  const overageUnits = q.limit === null ? 0 : Math.min(n, Math.max(0, state.used + state.reserved + n - q.limit));
  return { admitted: true, overageUnits };
}

/** Units left before the limit (never negative); null when unlimited. */
export function remaining(state: QuotaState, limit: number | null): number | null {
  return limit === null ? null : Math.max(0, limit - state.used - state.reserved);
}

/**
 * Reserve atomically. KEYS[1] counter hash {used, reserved}, KEYS[2] reservations
 * hash {predictionId: units}. ARGV: n, limit (-1 = unlimited), overage ('block'|'allow'),
 * prediction id. Returns {status, used, reserved}: status 1 admitted, 0 refused, -1 the counter
 * is missing (rebuild from the ledger, then try again).
 */
export const RESERVE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
local n = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local consumed = used + reserved
local over = limit >= 0 and (consumed >= limit or consumed + n > limit)
if over and ARGV[3] == 'block' then return {0, used, reserved} end
if redis.call('HSETNX', KEYS[2], ARGV[4], n) == 0 then return {1, used, reserved} end
redis.call('HINCRBY', KEYS[1], 'reserved', n)
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
return {1, used, reserved + n}
`;

/**
 * Settle one reservation. KEYS as above; ARGV: prediction id, actual units (-1 = give the
 * reservation back). Idempotent: the reservation entry is deleted by the first settlement, so
 * a redelivered event changes nothing. Returns 1 when it settled, 0 when there was nothing.
 */
export const SETTLE_SCRIPT = `
local n = redis.call('HGET', KEYS[2], ARGV[1])
if not n then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'reserved', 0 - tonumber(n))
local actual = tonumber(ARGV[2])
if actual >= 0 then redis.call('HINCRBY', KEYS[1], 'used', actual) end
return 1
`;

/**
 * Install a counter rebuilt from the ledger. KEYS as above; ARGV: mode ('init' = only when the
 * counter is missing, 'force' = replace), used, ttl seconds, then id/units pairs of the
 * unfinished predictions. Returns 1 when written, 0 when a counter was already there (init).
 */
export const INIT_SCRIPT = `
if ARGV[1] == 'init' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
local reserved = 0
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  reserved = reserved + tonumber(ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'used', ARGV[2], 'reserved', reserved)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
if reserved > 0 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3])) end
return 1
`;

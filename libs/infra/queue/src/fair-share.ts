/**
 * Fair sharing of a model-pool queue between organizations: start-time fair queueing (SFQ)
 * mapped onto BullMQ's integer job priorities, computed once per job at enqueue time.
 *
 * Every organization has a virtual finish time F per pool; the pool has a virtual time V (the
 * virtual start of the job at the head of the queue, minus one). A job of organization o with
 * plan priority q (1 = highest) gets the virtual start S = max(V, F_o), capped at V + HORIZON,
 * and advances F_o to max(V, F_o) + cost(q), cost(q) = q: an organization's jobs are spaced by
 * its cost, so two busy organizations share the workers in inverse proportion to their costs,
 * and an organization that was idle starts at V, ahead of every job already queued.
 *
 * The BullMQ priority is S × PLAN_LEVELS + (q − 1) + 1: ordered by S, then by plan priority
 * (between jobs of the same virtual round the better plan goes first), then FIFO (BullMQ's own
 * counter). Priorities stay within BullMQ's limit (2^21 − 1): S never exceeds V + HORIZON, and
 * when V passes REBASE_AT every queued job, every organization's F and V are lowered by V in
 * one atomic step (FAIR_TAG_LUA), so the numbers never grow with time.
 *
 * This file holds the math as plain functions (unit-tested, and a reference simulation of the
 * queue); FAIR_TAG_LUA runs the same steps atomically in Redis next to BullMQ's keys.
 */

/** BullMQ's largest job priority (bullmq's PRIORITY_LIMIT; a spec checks they agree). */
export const BULLMQ_PRIORITY_LIMIT = 2 ** 21 - 1;
/** Plan priorities are clamped to 1..PLAN_LEVELS (1 = highest). */
export const PLAN_LEVELS = 16;
/** The largest virtual start a priority can encode. */
export const MAX_START = Math.floor((BULLMQ_PRIORITY_LIMIT - PLAN_LEVELS) / PLAN_LEVELS);
/** How far ahead of V a job may be tagged; the excess of a longer backlog queues FIFO at V + HORIZON. */
export const HORIZON = 65_536;
/** V above this lowers everything by V before the next tag (leaves room for V + HORIZON + one cost). */
export const REBASE_AT = MAX_START - HORIZON - PLAN_LEVELS;

export interface FairLimits {
  horizon: number;
  rebaseAt: number;
  /** How long a tagged job is remembered as possibly on its way to the queue (longer than an enqueue's 2 s deadline). */
  idleMs: number;
}
export const DEFAULT_FAIR_LIMITS: FairLimits = { horizon: HORIZON, rebaseAt: REBASE_AT, idleMs: 5_000 };

/** The plan priority as a level 1..PLAN_LEVELS (anything else is clamped; non-integers rounded). */
export function planLevel(planPriority: number): number {
  if (!Number.isFinite(planPriority)) return PLAN_LEVELS;
  return Math.min(PLAN_LEVELS, Math.max(1, Math.round(planPriority)));
}

/** Virtual time one job of this plan costs its organization (weight = 1 / cost). */
export function costOf(planPriority: number): number {
  return planLevel(planPriority);
}

/** BullMQ priority of a job with virtual start `start` and plan priority `planPriority`. */
export function encodePriority(start: number, planPriority: number): number {
  return start * PLAN_LEVELS + (planLevel(planPriority) - 1) + 1;
}

/** Virtual start encoded in a BullMQ priority. */
export function startOf(priority: number): number {
  return Math.floor((priority - 1) / PLAN_LEVELS);
}

/** The priority after a rebase by `shift` (the plan level kept, the start lowered, never below 0). */
export function rebasedPriority(priority: number, shift: number): number {
  const level = ((priority - 1) % PLAN_LEVELS) + 1;
  return encodePriority(Math.max(0, startOf(priority) - shift), level);
}

/** A pool's scheduling state: V, the largest F handed out, and each organization's F. */
export interface FairState {
  v: number;
  fmax: number;
  finish: Map<string, number>;
}

export function emptyFairState(): FairState {
  return { v: 0, fmax: 0, finish: new Map() };
}

export interface FairTag {
  /** The BullMQ priority of the new job. */
  priority: number;
  /** >0 when this call rebased: every queued job's priority becomes rebasedPriority(p, shift). */
  shift: number;
}

/** What the tagging step reads of the queue. */
export interface QueueView {
  /** Priority of the job at the head of the queue (null: nothing queued). */
  headPriority: number | null;
  /** Priority of the job that started last, if one is still running (null: none). */
  lastStartedPriority: number | null;
  /** Nothing queued, nothing running, and every job tagged lately is in the queue (none still on its way). */
  idle: boolean;
}

/**
 * Tags one job (mutates `state`), given what the queue holds. Mirrors FAIR_TAG_LUA step by step.
 * V follows the head of the queue (its virtual start minus one, so an idle organization goes
 * before the head's round), or the job that started last when nothing is queued; when the
 * pool is idle, nobody has a backlog and everyone starts afresh at the largest finish time.
 */
export function fairTag(state: FairState, orgId: string, planPriority: number, view: QueueView, limits: FairLimits = DEFAULT_FAIR_LIMITS): FairTag {
  if (view.headPriority !== null) state.v = Math.max(state.v, startOf(view.headPriority) - 1);
  else if (view.lastStartedPriority !== null) state.v = Math.max(state.v, startOf(view.lastStartedPriority));
  else if (view.idle) {
    state.v = Math.max(state.v, state.fmax);
    state.finish.clear();
  }
  let shift = 0;
  if (state.v > limits.rebaseAt) {
    shift = state.v;
    for (const [org, f] of state.finish) {
      if (f - shift > 0) state.finish.set(org, f - shift);
      else state.finish.delete(org);
    }
    state.fmax = Math.max(0, state.fmax - shift);
    state.v = 0;
  }
  const f = Math.max(state.v, state.finish.get(orgId) ?? 0);
  const start = Math.min(f, state.v + limits.horizon);
  const finish = f + costOf(planPriority);
  state.finish.set(orgId, finish);
  state.fmax = Math.max(state.fmax, finish);
  return { priority: encodePriority(start, planPriority), shift };
}

/**
 * The stated bound: a prediction of organization B (plan cost c_B) enqueued while the
 * organizations `busy` (their plan costs) hold queued work starts after at most
 * Σ_X (⌊c_B / c_X⌋ + 1) of the jobs queued then, whatever their backlogs (as long as each
 * backlog is within HORIZON / c_X jobs; the excess waits FIFO at the back). When B had nothing
 * queued or recently run (F_B ≤ V) it starts after none of them but a job of the very virtual
 * round that was at the head (at most one per busy organization).
 */
export function jobsAheadBound(bPlanPriority: number, busyPlanPriorities: readonly number[]): number {
  const cb = costOf(bPlanPriority);
  return busyPlanPriorities.reduce((sum, q) => sum + Math.floor(cb / costOf(q)) + 1, 0);
}

/**
 * The same steps in Redis, atomic with respect to every gateway instance.
 * KEYS: 1 state hash (v, fmax, shift = the last rebase's, rebases), 2 organizations'
 * finish times (hash), 3 BullMQ's prioritized zset, 4 BullMQ's delayed zset, 5 BullMQ's active
 * list, 6 jobs tagged in the last idleMs (zset by time), 7 stragglers of the last rebase (set).
 * ARGV: 1 organization id, 2 plan level (1..PLAN_LEVELS), 3 BullMQ job-key prefix
 * (`<prefix>:<queue>:`), 4 PLAN_LEVELS, 5 horizon, 6 rebaseAt, 7 idleMs, 8 the job's id.
 * A job tagged before a rebase whose add lands after it (another gateway, or this one's next
 * request, rebased in between) is a straggler: the rebase records it, and the first tag after
 * it lands lowers it like the rest (so nobody waits a whole rebase cycle behind).
 * The last started job is the head of BullMQ's active list (moveToActive LPUSHes it).
 * Returns the priority. BullMQ's prioritized score is priority × 2^32 + a counter
 * (getPriorityScore.lua); a job's priority is also the `priority` field of its hash, which
 * BullMQ reads when a delayed or retried job goes back to the queue, so a rebase updates both.
 */
export const FAIR_TAG_LUA = `
local levels = tonumber(ARGV[4])
local horizon = tonumber(ARGV[5])
local rebaseAt = tonumber(ARGV[6])
local idleMs = tonumber(ARGV[7])
local jobId = ARGV[8]
local level = tonumber(ARGV[2])
local jobPrefix = ARGV[3]
local TWO32 = 4294967296
local function lower(p, shift)
  local s = math.floor((p - 1) / levels) - shift
  if s < 0 then s = 0 end
  return s * levels + ((p - 1) % levels) + 1
end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local fmax = tonumber(redis.call('HGET', KEYS[1], 'fmax') or '0')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Jobs tagged in the last idleMs (their add may still be on its way).
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - idleMs)
local head = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if #head > 0 then
  local s = math.floor((math.floor(tonumber(head[2]) / TWO32) - 1) / levels) - 1
  if s > v then v = s end
else
  local last = redis.call('LINDEX', KEYS[5], 0)
  local lp = last and tonumber(redis.call('HGET', jobPrefix .. last, 'priority') or '0') or 0
  if lp and lp > 0 then
    local s = math.floor((lp - 1) / levels)
    if s > v then v = s end
  else
    -- Idle unless a job tagged lately has not reached the queue yet (no hash): its add is on its way.
    local idle = true
    for _, id in ipairs(redis.call('ZREVRANGE', KEYS[6], 0, 31)) do
      if redis.call('EXISTS', jobPrefix .. id) == 0 then idle = false break end
    end
    if idle then
      if fmax > v then v = fmax end
      redis.call('DEL', KEYS[2])
    end
  end
end
if v > rebaseAt then
  local shift = v
  local queued = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
  for i = 1, #queued, 2 do
    local score = tonumber(queued[i + 1])
    local np = lower(math.floor(score / TWO32), shift)
    redis.call('ZADD', KEYS[3], np * TWO32 + (score % TWO32), queued[i])
    redis.call('HSET', jobPrefix .. queued[i], 'priority', np)
  end
  local others = redis.call('ZRANGE', KEYS[4], 0, -1)
  for _, id in ipairs(redis.call('LRANGE', KEYS[5], 0, -1)) do others[#others + 1] = id end
  for _, id in ipairs(others) do
    local p = tonumber(redis.call('HGET', jobPrefix .. id, 'priority') or '0')
    if p and p > 0 then redis.call('HSET', jobPrefix .. id, 'priority', lower(p, shift)) end
  end
  local orgs = redis.call('HGETALL', KEYS[2])
  for i = 1, #orgs, 2 do
    local f = tonumber(orgs[i + 1]) - shift
    if f > 0 then redis.call('HSET', KEYS[2], orgs[i], f) else redis.call('HDEL', KEYS[2], orgs[i]) end
  end
  -- Tagged before this rebase but not added yet: lowered when they land (below).
  redis.call('DEL', KEYS[7])
  for _, id in ipairs(redis.call('ZRANGE', KEYS[6], 0, -1)) do
    if redis.call('EXISTS', jobPrefix .. id) == 0 then redis.call('SADD', KEYS[7], id) end
  end
  redis.call('DEL', KEYS[6])
  redis.call('PEXPIRE', KEYS[7], idleMs)
  redis.call('HSET', KEYS[1], 'shift', shift)
  redis.call('HINCRBY', KEYS[1], 'rebases', 1)
  fmax = fmax - shift
  if fmax < 0 then fmax = 0 end
  v = 0
end
if redis.call('EXISTS', KEYS[7]) == 1 then
  local shift = tonumber(redis.call('HGET', KEYS[1], 'shift') or '0')
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[7])) do
    local sc = redis.call('ZSCORE', KEYS[3], id)
    if sc then
      local score = tonumber(sc)
      local np = lower(math.floor(score / TWO32), shift)
      redis.call('ZADD', KEYS[3], np * TWO32 + (score % TWO32), id)
      redis.call('HSET', jobPrefix .. id, 'priority', np)
      redis.call('SREM', KEYS[7], id)
    elseif redis.call('EXISTS', jobPrefix .. id) == 1 then
      redis.call('SREM', KEYS[7], id)
    end
  end
end
local f = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if f < v then f = v end
local start = f
if start > v + horizon then start = v + horizon end
local finish = f + level
redis.call('HSET', KEYS[2], ARGV[1], finish)
if finish > fmax then fmax = finish end
redis.call('HSET', KEYS[1], 'v', v, 'fmax', fmax)
redis.call('ZADD', KEYS[6], now, jobId)
return start * levels + (level - 1) + 1
`;

/**
 * The autoscaler's decision for one model pool, as a pure function of what it sees (signals),
 * what it remembers (state) and its settings (policy). The control loop, the simulation in
 * bench/ and the tests all call `decide`; nothing here reads a clock, Redis or Prometheus.
 */

/** What the autoscaler sees of one model pool at one instant. Unknown readings are null. */
export interface PoolSignals {
  /** Jobs waiting to start: waiting + prioritized + delayed (the whole BullMQ backlog, not one list). */
  backlog: number;
  /** Jobs running now. */
  active: number;
  /** Jobs added per second over the recent past (null: not known). */
  arrivalRate: number | null;
  /** A high quantile (p90) of the queue wait of jobs started recently, in seconds (null: none started). */
  waitSeconds: number | null;
  /** Mean service time of one job, in seconds (null: not known yet). */
  serviceSeconds: number | null;
}

export interface ScalingPolicy {
  minWorkers: number;
  maxWorkers: number;
  /** Jobs (queued or running) one worker is expected to carry. */
  targetPerWorker: number;
  /** Jobs one worker runs at once (its concurrency); used with arrival rate × service time. */
  slotsPerWorker: number;
  /** Busy share of the slots the arrival-rate term aims at (0 < u ≤ 1). */
  targetUtilization: number;
  /** Queue-wait objective, seconds: a wait above it asks for workers in proportion. */
  waitSloSeconds: number;
  /** HPA-style tolerance: a change of less than this ratio of the current count is not made. */
  tolerance: number;
  /** A scale-up takes the lowest recommendation of this window (0: at once). */
  upWindowMs: number;
  /** A scale-down takes the highest recommendation of this window. */
  downWindowMs: number;
  /** At most this many workers added per decision. */
  maxStepUp: number;
  /** At most this many workers removed per decision. */
  maxStepDown: number;
  /** With minWorkers = 0: the pool keeps one worker until it has been idle this long. */
  idleMs: number;
}

export type ScalingAction = 'up' | 'down' | 'hold';

export type ScalingReason =
  | 'from_zero'
  | 'backlog'
  | 'latency'
  | 'arrival_rate'
  | 'idle'
  | 'idle_to_zero'
  | 'within_tolerance'
  | 'stabilizing'
  | 'at_max'
  | 'at_min'
  | 'steady';

/** What the pool's decisions remember between calls (start with `initialScalingState`). */
export interface ScalingState {
  /** Recent raw recommendations, oldest first (pruned to the longer window). */
  recommendations: ReadonlyArray<{ at: number; workers: number }>;
  /** Last instant the pool had work (backlog, running jobs or arrivals); null: never. */
  lastBusyAt: number | null;
  /** First decision's instant: a scale-down waits until a whole down window has been observed. */
  since: number | null;
}

export interface ScalingDecision {
  desired: number;
  action: ScalingAction;
  reason: ScalingReason;
  /** The recommendation before tolerance, stabilisation and step limits. */
  recommended: number;
  /** Each term of the recommendation (for logs and the simulation). */
  terms: { backlog: number; latency: number; arrivalRate: number };
  state: ScalingState;
}

export const initialScalingState = (): ScalingState => ({ recommendations: [], lastBusyAt: null, since: null });

export const DEFAULT_SCALING_POLICY: ScalingPolicy = {
  minWorkers: 1,
  maxWorkers: 4,
  targetPerWorker: 8,
  slotsPerWorker: 4,
  targetUtilization: 0.8,
  waitSloSeconds: 2,
  tolerance: 0.1,
  upWindowMs: 0,
  downWindowMs: 60_000,
  maxStepUp: 4,
  maxStepDown: 1,
  idleMs: 120_000,
};

/** Throws on settings no decision can honour (the config schema checks them at start-up too). */
export function assertPolicy(p: ScalingPolicy): void {
  if (!(p.minWorkers >= 0 && Number.isInteger(p.minWorkers))) throw new Error('minWorkers must be a non-negative integer');
  if (p.minWorkers > p.maxWorkers) throw new Error('minWorkers exceeds maxWorkers');
  if (!(p.maxWorkers >= 1)) throw new Error('maxWorkers must be at least 1');
  if (!(p.targetPerWorker > 0)) throw new Error('targetPerWorker must be positive');
  if (!(p.slotsPerWorker > 0)) throw new Error('slotsPerWorker must be positive');
  if (!(p.targetUtilization > 0 && p.targetUtilization <= 1)) throw new Error('targetUtilization must be in (0, 1]');
  if (!(p.waitSloSeconds > 0)) throw new Error('waitSloSeconds must be positive');
  if (!(p.tolerance >= 0 && p.tolerance < 1)) throw new Error('tolerance must be in [0, 1)');
  if (!(p.maxStepUp >= 1 && p.maxStepDown >= 1)) throw new Error('maxStepUp and maxStepDown must be at least 1');
  if (!(p.upWindowMs >= 0 && p.downWindowMs >= 0 && p.idleMs >= 0)) throw new Error('windows must not be negative');
}

const nonNegative = (n: number | null): number => (n !== null && Number.isFinite(n) && n > 0 ? n : 0);

/** The raw terms: workers for the work in hand, for the queue wait against the SLO, and for the arrival rate (Little's law). */
export function recommendationTerms(s: PoolSignals, current: number, p: ScalingPolicy): ScalingDecision['terms'] {
  const work = nonNegative(s.backlog) + nonNegative(s.active);
  const backlog = Math.ceil(work / p.targetPerWorker);
  // Wait above the SLO: grow the pool in proportion (at most double per decision), like HPA's ratio.
  const wait = nonNegative(s.waitSeconds);
  const latency = wait > p.waitSloSeconds && work > 0 ? Math.ceil(Math.max(1, current) * Math.min(2, wait / p.waitSloSeconds)) : 0;
  // Jobs in service at once = arrival rate × service time; each worker carries slots × utilization of them.
  const offered = nonNegative(s.arrivalRate) * nonNegative(s.serviceSeconds);
  const arrivalRate = offered > 0 ? Math.ceil(offered / (p.slotsPerWorker * p.targetUtilization) - 1e-9) : 0;
  return { backlog, latency, arrivalRate };
}

/**
 * One decision: the recommendation is the largest term; then tolerance, the up and down
 * stabilisation windows (HPA: a scale-up takes the lowest recommendation of its window, a
 * scale-down the highest of its window), the step limits and [min, max]. A pool at zero with
 * work scales to one at once (no window); a pool with minWorkers = 0 keeps one worker until it
 * has been idle `idleMs`, then goes to zero.
 */
export function decide(input: { now: number; current: number; signals: PoolSignals; state: ScalingState }, p: ScalingPolicy): ScalingDecision {
  assertPolicy(p);
  const { now, signals } = input;
  const current = Math.max(0, Math.floor(input.current));
  const work = nonNegative(signals.backlog) + nonNegative(signals.active);
  const busy = work > 0 || nonNegative(signals.arrivalRate) > 0;
  const lastBusyAt = busy ? now : input.state.lastBusyAt;
  const terms = recommendationTerms(signals, current, p);
  const top = Math.max(terms.backlog, terms.latency, terms.arrivalRate);
  const reason: ScalingReason = top === 0 ? 'idle' : terms.latency === top && terms.latency > terms.backlog ? 'latency' : terms.backlog >= terms.arrivalRate ? 'backlog' : 'arrival_rate';

  // The floor: minWorkers, or one worker while a scale-to-zero pool has not been idle long enough.
  const idleLongEnough = !busy && (lastBusyAt === null || now - lastBusyAt >= p.idleMs);
  const floor = p.minWorkers > 0 ? p.minWorkers : idleLongEnough ? 0 : current > 0 || busy ? 1 : 0;
  const recommended = Math.min(p.maxWorkers, Math.max(floor, top));

  const horizon = Math.max(p.upWindowMs, p.downWindowMs);
  const recommendations = [...input.state.recommendations.filter((r) => now - r.at < horizon), { at: now, workers: recommended }];
  const since = input.state.since ?? now;
  const state: ScalingState = { recommendations, lastBusyAt, since };
  const done = (desired: number, why: ScalingReason): ScalingDecision => ({
    desired,
    action: desired > current ? 'up' : desired < current ? 'down' : 'hold',
    reason: why,
    recommended,
    terms,
    state,
  });

  // From zero on the first job (or the first arrivals, when the gateway's counter is scraped before
  // the jobs reach the queue): no window, no tolerance.
  if (current === 0 && busy) return done(Math.max(1, Math.min(recommended, p.maxStepUp)), 'from_zero');
  if (current < p.minWorkers) return done(Math.min(p.minWorkers, current + p.maxStepUp), 'at_min');
  if (current > p.maxWorkers) return done(Math.max(p.maxWorkers, current - p.maxStepDown), 'at_max');

  // Idle for the whole idle period: every worker is idle, none is needed (no window, no step).
  if (recommended === 0 && current > 0 && idleLongEnough) return done(0, 'idle_to_zero');

  if (current === p.maxWorkers && top > p.maxWorkers) return done(current, 'at_max');

  // Tolerance: a small relative change is noise (never blocks leaving zero or reaching zero).
  if (current > 0 && recommended > 0 && Math.abs(recommended / current - 1) <= p.tolerance + 1e-9) return done(current, 'within_tolerance');

  if (recommended > current) {
    const window = recommendations.filter((r) => now - r.at < p.upWindowMs || r.at === now);
    const stable = Math.min(...window.map((r) => r.workers));
    if (stable <= current) return done(current, 'stabilizing');
    const desired = Math.min(stable, current + p.maxStepUp, p.maxWorkers);
    return done(desired, desired === p.maxWorkers && top > p.maxWorkers ? 'at_max' : reason);
  }
  if (recommended < current) {
    const window = recommendations.filter((r) => now - r.at < p.downWindowMs || r.at === now);
    // Scale-down only after a whole window has been observed (else its highest is unknown).
    const stable = Math.max(...window.map((r) => r.workers));
    if (stable >= current || now - since < p.downWindowMs) return done(current, 'stabilizing');
    return done(Math.max(stable, current - p.maxStepDown, floor), reason);
  }
  return done(current, top > p.maxWorkers ? 'at_max' : 'steady');
}

/** What the autoscaler sees of one model pool (the original, backlog-only form). */
export interface PoolLoad {
  /** Jobs waiting to start (waiting + prioritized + delayed). */
  backlog: number;
  /** Jobs running now. */
  active: number;
}

/** Workers for the work in hand alone, clamped to [min, max] (the backlog term of `decide`). */
export function desiredWorkers(load: PoolLoad, policy: Pick<ScalingPolicy, 'minWorkers' | 'maxWorkers' | 'targetPerWorker'>): number {
  if (policy.minWorkers > policy.maxWorkers) throw new Error('minWorkers exceeds maxWorkers');
  if (policy.targetPerWorker <= 0) throw new Error('targetPerWorker must be positive');
  const work = Math.max(0, load.backlog) + Math.max(0, load.active);
  const wanted = Math.ceil(work / policy.targetPerWorker);
  return Math.min(policy.maxWorkers, Math.max(policy.minWorkers, wanted));
}

import { describe, expect, it } from '@jest/globals';
import { decide, DEFAULT_SCALING_POLICY, desiredWorkers, initialScalingState, recommendationTerms, type PoolSignals, type ScalingDecision, type ScalingPolicy, type ScalingState } from './policy.js';

const policy = { minWorkers: 1, maxWorkers: 4, targetPerWorker: 8 };

describe('desiredWorkers', () => {
  it('keeps the minimum when idle', () => {
    expect(desiredWorkers({ backlog: 0, active: 0 }, policy)).toBe(1);
    expect(desiredWorkers({ backlog: 0, active: 0 }, { ...policy, minWorkers: 0 })).toBe(0);
  });
  it('adds a worker per target of queued plus running jobs', () => {
    expect(desiredWorkers({ backlog: 8, active: 0 }, policy)).toBe(1);
    expect(desiredWorkers({ backlog: 8, active: 1 }, policy)).toBe(2);
    expect(desiredWorkers({ backlog: 20, active: 4 }, policy)).toBe(3);
  });
  it('never exceeds the maximum', () => {
    expect(desiredWorkers({ backlog: 10_000, active: 4 }, policy)).toBe(4);
  });
  it('ignores negative readings and refuses inconsistent policies', () => {
    expect(desiredWorkers({ backlog: -5, active: -1 }, policy)).toBe(1);
    expect(() => desiredWorkers({ backlog: 0, active: 0 }, { ...policy, minWorkers: 5 })).toThrow();
    expect(() => desiredWorkers({ backlog: 0, active: 0 }, { ...policy, targetPerWorker: 0 })).toThrow();
  });
});

const P: ScalingPolicy = {
  ...DEFAULT_SCALING_POLICY,
  minWorkers: 0,
  maxWorkers: 10,
  targetPerWorker: 4,
  slotsPerWorker: 2,
  targetUtilization: 1,
  waitSloSeconds: 1,
  tolerance: 0.1,
  upWindowMs: 0,
  downWindowMs: 30_000,
  maxStepUp: 3,
  maxStepDown: 1,
  idleMs: 60_000,
};
const quiet: PoolSignals = { backlog: 0, active: 0, arrivalRate: 0, waitSeconds: null, serviceSeconds: null };
const load = (over: Partial<PoolSignals>): PoolSignals => ({ ...quiet, ...over });

/** Runs decisions every `stepMs`, applying each desired count as the next current one. */
function run(signals: (t: number) => PoolSignals, opts: { current: number; until: number; stepMs?: number; policy?: ScalingPolicy; state?: ScalingState }): Array<ScalingDecision & { t: number; current: number }> {
  const out: Array<ScalingDecision & { t: number; current: number }> = [];
  let current = opts.current;
  let state = opts.state ?? initialScalingState();
  for (let t = 0; t <= opts.until; t += opts.stepMs ?? 5_000) {
    const d = decide({ now: t, current, signals: signals(t), state }, opts.policy ?? P);
    out.push({ ...d, t, current });
    state = d.state;
    current = d.desired;
  }
  return out;
}

describe('decide: terms', () => {
  it('backlog per worker, latency against the SLO, arrival rate × service time', () => {
    expect(recommendationTerms(load({ backlog: 9, active: 2 }), 1, P)).toEqual({ backlog: 3, latency: 0, arrivalRate: 0 });
    // Wait 3 s against a 1 s SLO with 2 workers: at most double (4).
    expect(recommendationTerms(load({ backlog: 1, waitSeconds: 3 }), 2, P).latency).toBe(4);
    expect(recommendationTerms(load({ backlog: 1, waitSeconds: 1.5 }), 2, P).latency).toBe(3);
    // A long wait with nothing queued asks for nothing (the wait is history).
    expect(recommendationTerms(load({ waitSeconds: 30 }), 2, P).latency).toBe(0);
    // 10 jobs/s × 0.5 s = 5 jobs in service; 2 slots per worker at 100 % → 3 workers.
    expect(recommendationTerms(load({ arrivalRate: 10, serviceSeconds: 0.5 }), 1, P).arrivalRate).toBe(3);
    expect(recommendationTerms(load({ arrivalRate: 8, serviceSeconds: 0.5 }), 1, P).arrivalRate).toBe(2);
    expect(recommendationTerms(load({ arrivalRate: 10, serviceSeconds: null }), 1, P).arrivalRate).toBe(0);
    expect(recommendationTerms(load({ backlog: -3, active: Number.NaN, arrivalRate: -1, serviceSeconds: 1 }), 1, P)).toEqual({ backlog: 0, latency: 0, arrivalRate: 0 });
  });
});

describe('decide', () => {
  it('scales from zero on the first job, at once and without a window', () => {
    const d = decide({ now: 0, current: 0, signals: load({ backlog: 1 }), state: initialScalingState() }, { ...P, upWindowMs: 60_000 });
    expect(d).toMatchObject({ desired: 1, action: 'up', reason: 'from_zero' });
    // A big first burst: up to the step limit at once.
    expect(decide({ now: 0, current: 0, signals: load({ backlog: 40 }), state: initialScalingState() }, P)).toMatchObject({ desired: 3, action: 'up', reason: 'from_zero' });
    // Arrivals seen before their jobs reach the queue count as the first job too.
    expect(decide({ now: 0, current: 0, signals: load({ arrivalRate: 2 }), state: initialScalingState() }, { ...P, upWindowMs: 60_000 })).toMatchObject({ desired: 1, action: 'up', reason: 'from_zero' });
  });

  it('stays at zero while nothing arrives', () => {
    const ds = run(() => quiet, { current: 0, until: 120_000 });
    expect(ds.every((d) => d.desired === 0 && d.action === 'hold')).toBe(true);
  });

  it('scales up by backlog, at most maxStepUp per decision, up to max', () => {
    const ds = run(() => load({ backlog: 100 }), { current: 1, until: 20_000 });
    expect(ds.map((d) => d.desired)).toEqual([4, 7, 10, 10, 10]);
    expect(ds.map((d) => d.action)).toEqual(['up', 'up', 'up', 'hold', 'hold']);
    expect(ds[0]!.reason).toBe('backlog');
    expect(ds[2]!.reason).toBe('at_max');
    expect(ds[4]!.reason).toBe('at_max');
  });

  it('scales up on latency when the wait exceeds the SLO with little backlog', () => {
    const d = decide({ now: 0, current: 2, signals: load({ backlog: 2, active: 4, waitSeconds: 2.5 }), state: initialScalingState() }, P);
    expect(d).toMatchObject({ desired: 4, action: 'up', reason: 'latency' });
  });

  it('scales up on the arrival rate before a backlog builds', () => {
    const d = decide({ now: 0, current: 1, signals: load({ active: 2, arrivalRate: 12, serviceSeconds: 0.5 }), state: initialScalingState() }, P);
    expect(d).toMatchObject({ desired: 3, action: 'up', reason: 'arrival_rate' });
  });

  it('holds within the tolerance', () => {
    // 11 workers' worth on 10: 10 % is within tolerance 0.1.
    const d = decide({ now: 0, current: 10, signals: load({ backlog: 40, active: 4 }), state: initialScalingState() }, { ...P, maxWorkers: 20 });
    expect(d).toMatchObject({ desired: 10, action: 'hold', reason: 'within_tolerance', recommended: 11 });
    expect(decide({ now: 0, current: 10, signals: load({ backlog: 44, active: 4 }), state: initialScalingState() }, { ...P, maxWorkers: 20 })).toMatchObject({ desired: 12, action: 'up' });
  });

  it('an up window takes the lowest recommendation in it (a one-tick spike does not scale)', () => {
    const p = { ...P, upWindowMs: 10_000 };
    const ds = run((t) => load({ backlog: t === 5_000 ? 40 : t >= 20_000 ? 40 : 4 }), { current: 1, until: 30_000, policy: p });
    // t=5 s spike: the window still holds t=0's 1 → hold (stabilizing).
    expect(ds[1]).toMatchObject({ t: 5_000, action: 'hold', reason: 'stabilizing' });
    // From t=20 s the load holds; at t=20 s the window (10 s) still holds t=15 s's 1, at t=25 s it is all 10 → up.
    expect(ds.find((d) => d.t === 20_000)).toMatchObject({ action: 'hold', reason: 'stabilizing' });
    expect(ds.find((d) => d.t === 25_000)).toMatchObject({ action: 'up', desired: 4 });
  });

  it('a down window takes the highest recommendation in it and steps down by maxStepDown', () => {
    const ds = run((t) => load({ backlog: t < 10_000 ? 30 : 2, active: 2 }), { current: 8, until: 80_000 });
    const firstDown = ds.find((d) => d.action === 'down')!;
    // Busy until 5 s (recommendation 8); the window (30 s) must pass it entirely.
    expect(firstDown.t).toBe(35_000);
    expect(firstDown.desired).toBe(7);
    expect(ds.filter((d) => d.action === 'down').every((d) => d.current - d.desired === 1)).toBe(true);
    expect(ds.at(-1)!.desired).toBeGreaterThanOrEqual(1);
  });

  it('does not scale down before a whole down window has been observed (restart of the autoscaler)', () => {
    const ds = run(() => load({ active: 1 }), { current: 5, until: 40_000 });
    expect(ds.filter((d) => d.t < 30_000).every((d) => d.action === 'hold' && d.reason === 'stabilizing')).toBe(true);
    expect(ds.find((d) => d.t === 30_000)).toMatchObject({ action: 'down', desired: 4 });
  });

  it('with minWorkers = 0 keeps one worker until idle for idleMs, then scales to zero', () => {
    const ds = run((t) => (t < 10_000 ? load({ backlog: 3, active: 1 }) : quiet), { current: 1, until: 100_000 });
    const zero = ds.find((d) => d.desired === 0)!;
    // Last busy at t=5 s; idle 60 s → zero at 65 s.
    expect(zero).toMatchObject({ t: 65_000, action: 'down', reason: 'idle_to_zero' });
    expect(ds.filter((d) => d.t < 65_000).every((d) => d.desired === 1)).toBe(true);
    // And back from zero on the next job.
    const back = decide({ now: 200_000, current: 0, signals: load({ backlog: 1 }), state: ds.at(-1)!.state }, P);
    expect(back).toMatchObject({ desired: 1, reason: 'from_zero' });
  });

  it('with minWorkers > 0 never goes below it and restores it', () => {
    const p = { ...P, minWorkers: 2 };
    expect(run(() => quiet, { current: 2, until: 200_000, policy: p }).every((d) => d.desired === 2)).toBe(true);
    expect(decide({ now: 0, current: 0, signals: quiet, state: initialScalingState() }, p)).toMatchObject({ desired: 2, action: 'up', reason: 'at_min' });
    expect(decide({ now: 0, current: 14, signals: quiet, state: initialScalingState() }, p)).toMatchObject({ desired: 13, action: 'down', reason: 'at_max' });
  });

  it('refuses inconsistent policies', () => {
    const s = { now: 0, current: 1, signals: quiet, state: initialScalingState() };
    expect(() => decide(s, { ...P, minWorkers: 11 })).toThrow(/minWorkers/);
    expect(() => decide(s, { ...P, targetUtilization: 0 })).toThrow(/targetUtilization/);
    expect(() => decide(s, { ...P, maxStepDown: 0 })).toThrow(/maxStep/);
    expect(() => decide(s, { ...P, tolerance: 1 })).toThrow(/tolerance/);
  });
});

import { describe, expect, it } from '@jest/globals';
import { PRIORITY_LIMIT } from 'bullmq';
import { BULLMQ_PRIORITY_LIMIT, costOf, emptyFairState, encodePriority, fairTag, jobsAheadBound, MAX_START, planLevel, PLAN_LEVELS, rebasedPriority, startOf, type FairLimits, type FairState } from './fair-share.js';

/** A reference queue: BullMQ's order (lowest priority first, then FIFO), tagged by fairTag. */
class SimQueue {
  readonly state: FairState = emptyFairState();
  private seq = 0;
  queued: { org: string; id: number; priority: number; seq: number }[] = [];
  maxPriority = 0;
  rebases = 0;

  constructor(private readonly limits?: FairLimits) {}

  add(org: string, planPriority: number): number {
    const head = this.queued.length ? Math.min(...this.queued.map((j) => j.priority)) : null;
    const tag = fairTag(this.state, org, planPriority, { headPriority: head, lastStartedPriority: null, idle: head === null }, this.limits);
    if (tag.shift > 0) {
      this.rebases++;
      for (const j of this.queued) j.priority = rebasedPriority(j.priority, tag.shift);
    }
    const id = this.seq++;
    this.queued.push({ org, id, priority: tag.priority, seq: id });
    this.maxPriority = Math.max(this.maxPriority, tag.priority);
    return id;
  }

  /** Takes the next job, as a worker's moveToActive does. */
  take(): { org: string; id: number } {
    let best = 0;
    for (let i = 1; i < this.queued.length; i++) {
      const a = this.queued[i]!;
      const b = this.queued[best]!;
      if (a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq)) best = i;
    }
    const [job] = this.queued.splice(best, 1);
    return job!;
  }

  /** Jobs taken before `id`, and takes `id` itself. */
  takenBefore(id: number): number {
    let n = 0;
    while (this.take().id !== id) n++;
    return n;
  }
}

describe('the priority encoding', () => {
  it('uses BullMQ’s own priority limit', () => expect(BULLMQ_PRIORITY_LIMIT).toBe(PRIORITY_LIMIT));
  it('round-trips the virtual start and orders by start, then plan priority', () => {
    expect(startOf(encodePriority(1234, 7))).toBe(1234);
    expect(encodePriority(0, 1)).toBe(1); // never 0: 0 is "no priority" in BullMQ
    expect(encodePriority(5, 1)).toBeLessThan(encodePriority(5, 2));
    expect(encodePriority(5, PLAN_LEVELS)).toBeLessThan(encodePriority(6, 1));
    expect(encodePriority(MAX_START, PLAN_LEVELS)).toBeLessThanOrEqual(BULLMQ_PRIORITY_LIMIT);
  });
  it('clamps plan priorities and weighs them', () => {
    expect([planLevel(0), planLevel(-3), planLevel(1), planLevel(10), planLevel(99), planLevel(Number.NaN)]).toEqual([1, 1, 1, 10, PLAN_LEVELS, PLAN_LEVELS]);
    expect(costOf(10)).toBe(10 * costOf(1));
  });
  it('rebases a priority without changing its plan level', () => {
    const p = encodePriority(70_000, 3);
    expect(rebasedPriority(p, 69_000)).toBe(encodePriority(1_000, 3));
    expect(rebasedPriority(encodePriority(10, 3), 69_000)).toBe(encodePriority(0, 3));
  });
});

describe('fair share between organizations', () => {
  it.each([
    ['free B behind free A', 10, 10],
    ['free B behind pro A', 10, 1],
    ['pro B behind free A', 1, 10],
    ['lowest B behind pro A', 16, 1],
  ])('%s: B’s one job starts within the stated bound whatever A’s backlog', (_name, bPlan, aPlan) => {
    for (const backlog of [10, 5_000]) {
      const q = new SimQueue();
      for (let i = 0; i < backlog; i++) q.add('A', aPlan);
      const b = q.add('B', bPlan);
      const before = q.takenBefore(b);
      expect(before).toBeLessThanOrEqual(jobsAheadBound(bPlan, [aPlan]));
      expect(jobsAheadBound(bPlan, [aPlan])).toBeLessThan(20);
    }
  });

  it('a B that ran recently still starts within the bound (its finish time is past V)', () => {
    const q = new SimQueue();
    for (let i = 0; i < 5_000; i++) q.add('A', 10);
    const first = q.add('B', 10);
    q.takenBefore(first);
    for (let i = 0; i < 100; i++) q.take(); // A's jobs run on
    const b = q.add('B', 10);
    expect(q.takenBefore(b)).toBeLessThanOrEqual(jobsAheadBound(10, [10]));
  });

  it('with several busy tenants, B waits at most one round of them', () => {
    const q = new SimQueue();
    const busy = ['A', 'C', 'D'];
    for (let i = 0; i < 2_000; i++) for (const o of busy) q.add(o, 10);
    for (let i = 0; i < 777; i++) q.take();
    const b = q.add('B', 10);
    expect(q.takenBefore(b)).toBeLessThanOrEqual(jobsAheadBound(10, [10, 10, 10]));
  });

  it('a higher-priority plan’s job is picked before a lower one’s queued at the same time', () => {
    const q = new SimQueue();
    const low = q.add('L', 10);
    const high = q.add('H', 1);
    expect(q.take().id).toBe(high);
    expect(q.take().id).toBe(low);
  });

  it('two busy tenants share the workers in inverse proportion to their plan costs', () => {
    const q = new SimQueue();
    for (let i = 0; i < 3_000; i++) {
      q.add('pro', 1);
      q.add('free', 4);
    }
    const served = { pro: 0, free: 0 };
    for (let i = 0; i < 1_000; i++) served[q.take().org as 'pro' | 'free']++;
    expect(served.pro / served.free).toBeGreaterThan(3.8);
    expect(served.pro / served.free).toBeLessThan(4.2);
  });

  it('an idle tenant does not bank credit: after a long pause it starts at the current round, not before it', () => {
    const q = new SimQueue();
    for (let i = 0; i < 1_000; i++) q.add('A', 10);
    for (let i = 0; i < 500; i++) q.take();
    // B was idle all along: its 100 jobs interleave with A's, they do not all go first.
    const bs = new Set(Array.from({ length: 100 }, () => q.add('B', 10)));
    let aBefore = 0;
    for (let i = 0; i < 20; i++) if (!bs.has(q.take().id)) aBefore++;
    expect(aBefore).toBeGreaterThanOrEqual(9);
  });
});

describe('the virtual time when nothing is queued', () => {
  it('follows the job that started last, so a burst being enqueued keeps its own order and a newcomer goes next', () => {
    const state = emptyFairState();
    const none = { headPriority: null, lastStartedPriority: null, idle: false };
    // A's burst is tagged while none of it has reached the queue yet (not idle: tagged recently).
    const first = fairTag(state, 'A', 10, { ...none, idle: true }).priority;
    const burst = Array.from({ length: 250 }, () => fairTag(state, 'A', 10, none).priority);
    expect(burst[0]).toBeGreaterThan(first);
    expect(burst.every((p, i) => i === 0 || p > burst[i - 1]!)).toBe(true);
    // B arrives then: it goes before all of A's burst but the first one.
    const b = fairTag(state, 'B', 10, { ...none, headPriority: first }).priority;
    expect(burst.filter((p) => p <= b)).toHaveLength(0);
    // Nothing queued, A's last job running: B's next job is in the round of that job.
    const running = burst[100]!;
    const b2 = fairTag(state, 'C', 10, { ...none, lastStartedPriority: running }).priority;
    expect(startOf(b2)).toBe(startOf(running));
  });
  it('forgets every finish time once the pool is idle', () => {
    const state = emptyFairState();
    for (let i = 0; i < 100; i++) fairTag(state, 'A', 10, { headPriority: null, lastStartedPriority: null, idle: false });
    const a = fairTag(state, 'A', 10, { headPriority: null, lastStartedPriority: null, idle: true }).priority;
    const b = fairTag(state, 'B', 10, { headPriority: a, lastStartedPriority: null, idle: false }).priority;
    expect(startOf(b)).toBeLessThanOrEqual(startOf(a));
  });
});

describe('bounded priorities over time', () => {
  it('never exceeds BullMQ’s limit: V is lowered (rebased) before it could, keeping the order', () => {
    const q = new SimQueue();
    // A steady stream: two tenants on the lowest plan, one job in, one job out, for long
    // enough to cross the rebase threshold several times.
    for (let i = 0; i < 200; i++) q.add(i % 2 ? 'A' : 'C', 16);
    for (let i = 0; i < 40_000; i++) {
      q.add(i % 2 ? 'A' : 'C', 16);
      q.take();
    }
    expect(q.rebases).toBeGreaterThanOrEqual(2);
    expect(q.maxPriority).toBeLessThanOrEqual(BULLMQ_PRIORITY_LIMIT);
    // And fairness still holds right after: a newcomer starts within the bound.
    const b = q.add('B', 16);
    expect(q.takenBefore(b)).toBeLessThanOrEqual(jobsAheadBound(16, [16, 16]));
  });

  it('caps a huge backlog at the horizon and still lets a newcomer through first', () => {
    const limits = { horizon: 1_000, rebaseAt: 5_000, idleMs: 5_000 };
    const q = new SimQueue(limits);
    for (let i = 0; i < 8_000; i++) q.add('A', 10);
    expect(Math.max(...q.queued.map((j) => startOf(j.priority)))).toBeLessThanOrEqual(1_000);
    for (let i = 0; i < 6_000; i++) q.take();
    const b = q.add('B', 10);
    expect(q.takenBefore(b)).toBeLessThanOrEqual(jobsAheadBound(10, [10]));
  });
});

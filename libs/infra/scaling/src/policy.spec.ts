import { describe, expect, it } from '@jest/globals';
import { desiredWorkers } from './policy.js';

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

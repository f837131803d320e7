import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { BatchItemError, DynamicBatcher, validatePolicy, type ItemOutcome } from './batcher.js';

/** A runner that records the batches it saw and doubles each item; items < 0 fail. */
function recordingRunner() {
  const batches: number[][] = [];
  let release: (() => void) | null = null;
  let gate: Promise<void> | null = null;
  const runner = async (items: readonly number[]): Promise<ItemOutcome<number>[]> => {
    batches.push([...items]);
    if (gate) await gate;
    if (items.length > 1 && items.some((i) => i === -99)) throw new Error('whole batch failed');
    return items.map((i) => (i < 0 ? { ok: false as const, error: new Error(`bad item ${i}`) } : { ok: true as const, value: i * 2 }));
  };
  return {
    runner,
    batches,
    hold() {
      gate = new Promise<void>((r) => (release = r));
    },
    release() {
      gate = null;
      release?.();
    },
  };
}

describe('DynamicBatcher', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs a full batch at once without waiting for the delay', async () => {
    const r = recordingRunner();
    const b = new DynamicBatcher({ maxBatchSize: 3, maxQueueDelayMs: 10_000 }, r.runner);
    const results = await Promise.all([1, 2, 3].map((i) => b.submit(i)));
    expect(r.batches).toEqual([[1, 2, 3]]);
    expect(results.map((x) => x.value)).toEqual([2, 4, 6]);
    expect(results.every((x) => x.batchSize === 3)).toBe(true);
  });

  it('runs a partial batch when the oldest item has waited maxQueueDelayMs', async () => {
    const r = recordingRunner();
    const b = new DynamicBatcher({ maxBatchSize: 8, maxQueueDelayMs: 50 }, r.runner);
    const p = Promise.all([b.submit(1), b.submit(2)]);
    await jest.advanceTimersByTimeAsync(49);
    expect(r.batches).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    const results = await p;
    expect(r.batches).toEqual([[1, 2]]);
    expect(results.map((x) => x.batchSize)).toEqual([2, 2]);
  });

  it('splits more items than maxBatchSize into several batches, in order', async () => {
    const r = recordingRunner();
    const b = new DynamicBatcher({ maxBatchSize: 2, maxQueueDelayMs: 0 }, r.runner);
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => b.submit(i)));
    expect(r.batches.flat()).toEqual([1, 2, 3, 4, 5]);
    expect(r.batches.every((batch) => batch.length <= 2)).toBe(true);
    expect(results.map((x) => x.value)).toEqual([2, 4, 6, 8, 10]);
  });

  it('gathers the items that arrive while a batch runs into the next batch', async () => {
    const r = recordingRunner();
    const b = new DynamicBatcher({ maxBatchSize: 4, maxQueueDelayMs: 0 }, r.runner);
    r.hold();
    const first = b.submit(1);
    await jest.advanceTimersByTimeAsync(0);
    expect(r.batches).toEqual([[1]]);
    const later = [2, 3, 4].map((i) => b.submit(i));
    expect(b.pending).toBe(3);
    r.release();
    await Promise.all([first, ...later]);
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
  });

  it('fails only the item that failed, with its batch facts', async () => {
    const r = recordingRunner();
    const b = new DynamicBatcher({ maxBatchSize: 3, maxQueueDelayMs: 10_000 }, r.runner);
    const settled = await Promise.allSettled([b.submit(1), b.submit(-1), b.submit(3)]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (settled[1] as PromiseRejectedResult).reason as BatchItemError;
    expect(err).toBeInstanceOf(BatchItemError);
    expect(err.message).toBe('bad item -1');
    expect(err.batchSize).toBe(3);
  });

  it('isolates items when the whole batch throws, so good items still succeed', async () => {
    const r = recordingRunner();
    const b = new DynamicBatcher({ maxBatchSize: 3, maxQueueDelayMs: 10_000 }, r.runner);
    const settled = await Promise.allSettled([b.submit(5), b.submit(-99), b.submit(7)]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[0] as PromiseFulfilledResult<{ value: number }>).value.value).toBe(10);
    expect(r.batches).toEqual([[5, -99, 7], [5], [-99], [7]]);
  });

  it('rejects invalid policies and refuses items after close', async () => {
    expect(() => validatePolicy({ maxBatchSize: 0, maxQueueDelayMs: 1 })).toThrow(/maxBatchSize/);
    expect(() => validatePolicy({ maxBatchSize: 1, maxQueueDelayMs: -1 })).toThrow(/maxQueueDelayMs/);
    const b = new DynamicBatcher({ maxBatchSize: 1, maxQueueDelayMs: 0 }, recordingRunner().runner);
    b.close();
    await expect(b.submit(1)).rejects.toThrow(/closed/);
  });
});

import { describe, expect, it } from '@jest/globals';
import { defaultRunSlots, RunSlots } from './run-slots.js';

/** A run that finishes when the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('RunSlots', () => {
  it('runs at most `size` at once, the rest in arrival order', async () => {
    const slots = new RunSlots(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      slots.with(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(slots.queued).toBe(2);
    gates[1]!.open();
    await runs[1];
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.open();
    gates[2]!.open();
    gates[3]!.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(slots.queued).toBe(0);
  });

  it('frees the slot when a run fails', async () => {
    const slots = new RunSlots(1);
    await expect(slots.with(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await slots.with(() => Promise.resolve('next'))).toBe('next');
  });

  it('refuses a size below 1', () => {
    expect(() => new RunSlots(0)).toThrow(/positive integer/);
  });
});

describe('defaultRunSlots', () => {
  it('fits the cores at the intra-op threads; onnxruntime default threads (0) use every core, so one', () => {
    expect(defaultRunSlots(2, 0)).toBe(1);
    expect(defaultRunSlots(2, 2)).toBe(1);
    expect(defaultRunSlots(8, 2)).toBe(4);
    expect(defaultRunSlots(2, 4)).toBe(1);
  });
});

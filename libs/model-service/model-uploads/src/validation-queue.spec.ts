import { describe, expect, it } from '@jest/globals';
import { ValidationQueue, ValidationQueueFull } from './validation-queue.js';

/** A validation the test finishes when it wants. */
function controlled(): { work: () => Promise<string>; started: Promise<void>; finish: (v: string) => void } {
  let finish!: (v: string) => void;
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  const done = new Promise<string>((r) => (finish = r));
  return {
    work: () => {
      markStarted();
      return done;
    },
    started,
    finish,
  };
}

describe('ValidationQueue', () => {
  it('runs `concurrency` at once, lets `maxWaiting` wait, refuses the next with a Retry-After, and admits again once a slot frees', async () => {
    const q = new ValidationQueue({ concurrency: 2, maxWaiting: 1 });
    const [a, b, c] = [controlled(), controlled(), controlled()];
    const ra = q.run(a.work);
    const rb = q.run(b.work);
    const rc = q.run(c.work);
    await Promise.all([a.started, b.started]);
    expect({ running: q.running, waiting: q.waiting }).toEqual({ running: 2, waiting: 1 });

    const refused = await q.run(async () => 'never').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ValidationQueueFull);
    expect((refused as ValidationQueueFull).retryAfterSeconds).toBeGreaterThanOrEqual(1);

    a.finish('a');
    expect(await ra).toBe('a');
    await c.started; // the waiting one got a's slot
    expect({ running: q.running, waiting: q.waiting }).toEqual({ running: 2, waiting: 0 });
    const d = controlled();
    const rd = q.run(d.work); // room in the line again
    expect(q.waiting).toBe(1);
    b.finish('b');
    c.finish('c');
    await d.started;
    d.finish('d');
    expect(await Promise.all([rb, rc, rd])).toEqual(['b', 'c', 'd']);
    expect({ running: q.running, waiting: q.waiting }).toEqual({ running: 0, waiting: 0 });
  });

  it('with no waiting room refuses as soon as every slot is busy; a failed validation frees its slot', async () => {
    const q = new ValidationQueue({ concurrency: 1, maxWaiting: 0 });
    const a = controlled();
    const ra = q.run(a.work);
    await a.started;
    await expect(q.run(async () => 'x')).rejects.toBeInstanceOf(ValidationQueueFull);
    const failing = q.run(async () => Promise.reject(new Error('refused model')));
    await expect(failing).rejects.toBeInstanceOf(ValidationQueueFull);
    a.finish('a');
    await ra;
    await expect(q.run(async () => Promise.reject(new Error('refused model')))).rejects.toThrow('refused model');
    expect(await q.run(async () => 'ok')).toBe('ok');
  });

  it('estimates Retry-After from how long validations take and how many are ahead, between 1 and 60 s', async () => {
    let t = 0;
    const q = new ValidationQueue({ concurrency: 1, maxWaiting: 3, now: () => t });
    expect(q.retryAfterSeconds()).toBe(1); // nothing ahead
    for (let i = 0; i < 20; i++) {
      await q.run(async () => {
        t += 10_000; // each validation takes 10 s
      });
    }
    const held = controlled();
    const running = q.run(held.work);
    await held.started;
    const waiting = [controlled(), controlled()].map((c) => q.run(c.work));
    // 3 ahead (1 running + 2 waiting) × ~10 s each
    expect(q.retryAfterSeconds()).toBeGreaterThanOrEqual(29);
    expect(q.retryAfterSeconds()).toBeLessThanOrEqual(30);
    q.run(async () => 'x').catch(() => undefined);
    const err = await q.run(async () => 'x').catch((e: unknown) => e as ValidationQueueFull);
    expect((err as ValidationQueueFull).retryAfterSeconds).toBe(40);
    t += 1_000_000; // a very slow one: capped at 60 s
    held.finish('h');
    await running;
    expect(q.retryAfterSeconds()).toBe(60);
    void waiting;
  });

  it('refuses nonsense bounds', () => {
    expect(() => new ValidationQueue({ concurrency: 0, maxWaiting: 1 })).toThrow(RangeError);
    expect(() => new ValidationQueue({ concurrency: 1, maxWaiting: -1 })).toThrow(RangeError);
  });
});

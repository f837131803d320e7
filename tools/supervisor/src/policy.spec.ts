import { describe, expect, it } from '@jest/globals';
import { createLinePrefixer, nextAttempt, restartDelay } from './policy.js';

describe('restartDelay', () => {
  it('doubles from 250 ms and caps at 30 s by default', () => {
    expect([1, 2, 3, 4, 5].map((a) => restartDelay(a))).toEqual([250, 500, 1000, 2000, 4000]);
    expect(restartDelay(7)).toBe(16_000);
    expect(restartDelay(8)).toBe(30_000);
    expect(restartDelay(50)).toBe(30_000);
    expect(restartDelay(10_000)).toBe(30_000);
  });

  it('treats attempts below 1 as the first', () => {
    expect(restartDelay(0)).toBe(250);
    expect(restartDelay(-3)).toBe(250);
    expect(restartDelay(Number.NaN)).toBe(250);
  });

  it('honours custom base, factor and cap', () => {
    expect([1, 2, 3, 4].map((a) => restartDelay(a, { baseMs: 100, factor: 3, maxMs: 1000 }))).toEqual([100, 300, 900, 1000]);
    expect(restartDelay(1, { baseMs: 5000, maxMs: 1000 })).toBe(1000);
  });
});

describe('nextAttempt', () => {
  it('grows while the child keeps crashing quickly', () => {
    expect(nextAttempt(0, 100, 10_000)).toBe(1);
    expect(nextAttempt(3, 100, 10_000)).toBe(4);
  });

  it('starts over after a stable run', () => {
    expect(nextAttempt(7, 10_000, 10_000)).toBe(1);
    expect(nextAttempt(7, 60_000, 10_000)).toBe(1);
  });
});

describe('createLinePrefixer', () => {
  it('prefixes complete lines across chunk boundaries and flushes the rest', () => {
    const lines: string[] = [];
    const p = createLinePrefixer('[gateway]', (l) => lines.push(l));
    p.push('hel');
    p.push('lo\r\nwor');
    expect(lines).toEqual(['[gateway] hello']);
    p.push('ld\n\nlast');
    expect(lines).toEqual(['[gateway] hello', '[gateway] world', '[gateway] ']);
    p.flush();
    p.flush();
    expect(lines).toEqual(['[gateway] hello', '[gateway] world', '[gateway] ', '[gateway] last']);
  });
});

import { describe, expect, it } from '@jest/globals';
import { uuidv7, uuidv7Timestamp } from './uuid.js';

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('has the canonical shape, version 7 and the RFC 9562 variant', () => {
    for (let i = 0; i < 200; i++) {
      const id = uuidv7();
      expect(id).toMatch(SHAPE);
      expect(id[14]).toBe('7');
      expect(['8', '9', 'a', 'b']).toContain(id[19]);
    }
  });

  it('encodes the current time in its first 48 bits', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(uuidv7Timestamp(id)).toBeGreaterThanOrEqual(before);
    expect(uuidv7Timestamp(id)).toBeLessThanOrEqual(after + 1);
  });

  it('sorts consecutive ids in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stays monotonic when the clock steps back or the counter overflows', () => {
    const t = Date.now() + 10_000;
    const ids = [uuidv7(t)];
    for (let i = 0; i < 5_000; i++) ids.push(uuidv7(t));
    ids.push(uuidv7(t - 5_000));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    // 5,001 ids cannot share one millisecond's 12-bit counter: the timestamp carried forward
    expect(uuidv7Timestamp(ids.at(-1)!)).toBeGreaterThan(t);
  });
});

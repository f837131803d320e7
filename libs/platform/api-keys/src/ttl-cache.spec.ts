import { describe, expect, it } from '@jest/globals';
import { TtlCache } from './ttl-cache.js';

describe('TtlCache', () => {
  it('expires entries by the injected clock', () => {
    let t = 1_000;
    const c = new TtlCache<string>(10, () => t);
    c.set('a', 'x', 100);
    expect(c.get('a')?.value).toBe('x');
    t += 99;
    expect(c.get('a')?.value).toBe('x');
    t += 1;
    expect(c.get('a')).toBeUndefined();
  });
  it('caches null results as values (negative caching)', () => {
    const c = new TtlCache<string | null>(10, () => 0);
    c.set('k', null, 5);
    expect(c.get('k')).toMatchObject({ value: null });
  });
  it('evicts the oldest entry beyond its bound', () => {
    const c = new TtlCache<number>(2, () => 0);
    c.set('a', 1, 10);
    c.set('b', 2, 10);
    c.set('c', 3, 10);
    expect(c.size).toBe(2);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('c')?.value).toBe(3);
  });
});

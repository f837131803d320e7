import { describe, expect, it } from '@jest/globals';
import { digestApiKey, digestsEqual, displayPrefixOf, generateApiKey, parseApiKey, randomBase62 } from './key-format.js';

describe('API key format', () => {
  it('generates live and test keys with 32 base62 characters after the prefix', () => {
    const live = generateApiKey('live');
    const test = generateApiKey('test');
    expect(live.secret).toMatch(/^sk_live_[0-9A-Za-z]{32}$/);
    expect(test.secret).toMatch(/^sk_test_[0-9A-Za-z]{32}$/);
    expect(live.displayPrefix).toBe(live.secret.slice(0, 12));
    expect(parseApiKey(live.secret)).toEqual({ mode: 'live' });
    expect(parseApiKey(test.secret)).toEqual({ mode: 'test' });
  });

  it('never repeats and uses the whole alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(generateApiKey('live').secret);
    expect(seen.size).toBe(2000);
    const chars = new Set(randomBase62(20_000));
    expect(chars.size).toBe(62);
  });

  it('rejects malformed keys', () => {
    for (const bad of ['', 'sk_live_', 'sk_prod_' + 'a'.repeat(32), 'sk_live_' + 'a'.repeat(31), 'sk_live_' + 'a'.repeat(31) + '!', 'Bearer x']) {
      expect(parseApiKey(bad)).toBeNull();
    }
    expect(() => displayPrefixOf('nope')).toThrow();
  });

  it('digests with the pepper: another pepper gives another digest', () => {
    const { secret } = generateApiKey('live');
    const a = digestApiKey(secret, 'p'.repeat(32));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(digestApiKey(secret, 'p'.repeat(32))).toBe(a);
    expect(digestApiKey(secret, 'q'.repeat(32))).not.toBe(a);
    expect(digestsEqual(a, a)).toBe(true);
    expect(digestsEqual(a, digestApiKey(secret + 'x', 'p'.repeat(32)))).toBe(false);
    expect(digestsEqual(a, 'abcd')).toBe(false);
  });
});

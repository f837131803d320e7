import { describe, expect, it } from '@jest/globals';
import { deriveRedisSigningKey, openRedisValue, RedisSigner, signRedisValue } from './signing.js';

const key = deriveRedisSigningKey('p'.repeat(40));

describe('signed Redis values', () => {
  it('opens what it signed for the same key name', () => {
    const stored = signRedisValue(key, 'stratum:session:abc', '{"a":1}');
    expect(stored).toMatch(/^s1\.[A-Za-z0-9_-]{43}\.\{"a":1\}$/);
    expect(openRedisValue(key, 'stratum:session:abc', stored)).toBe('{"a":1}');
    expect(openRedisValue(key, 'stratum:session:abc', signRedisValue(key, 'stratum:session:abc', ''))).toBe('');
  });

  it('refuses unsigned, altered, moved and foreign-key values', () => {
    const stored = signRedisValue(key, 'p:apikey:1', '{"scopes":["predict"]}');
    expect(openRedisValue(key, 'p:apikey:1', '{"scopes":["predict"]}')).toBeUndefined();
    expect(openRedisValue(key, 'p:apikey:1', stored.replace('predict', 'admin'))).toBeUndefined();
    expect(openRedisValue(key, 'p:apikey:2', stored)).toBeUndefined();
    expect(openRedisValue(deriveRedisSigningKey('q'.repeat(40)), 'p:apikey:1', stored)).toBeUndefined();
    expect(openRedisValue(key, 'p:apikey:1', null)).toBeUndefined();
    expect(openRedisValue(key, 'p:apikey:1', 's1.short.x')).toBeUndefined();
    // A name/value boundary cannot be shifted: ("a:b", "c") and ("a", ":bc")-like splits differ.
    expect(openRedisValue(key, 'p:apikey:1x', signRedisValue(key, 'p:apikey:1', 'x'))).toBeUndefined();
  });

  it('derives a key of its own from the secret (not the secret itself), stable across instances', () => {
    expect(key).toHaveLength(32);
    expect(key.equals(Buffer.from('p'.repeat(40)).subarray(0, 32))).toBe(false);
    const a = RedisSigner.fromSecret('p'.repeat(40));
    expect(a.open('n', signRedisValue(key, 'n', 'v'))).toBe('v');
  });
});

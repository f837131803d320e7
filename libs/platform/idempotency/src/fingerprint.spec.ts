import { describe, expect, it } from '@jest/globals';
import { decide } from './decision.js';
import { canonicalJson, requestFingerprint } from './fingerprint.js';

describe('requestFingerprint', () => {
  const body = { feature: 'ocr-line', input: { image: 'abc', options: { a: 1, b: [1, 2] } } };
  it('ignores key order (canonical JSON)', () => {
    const reordered = { input: { options: { b: [1, 2], a: 1 }, image: 'abc' }, feature: 'ocr-line' };
    expect(canonicalJson(reordered)).toBe(canonicalJson(body));
    expect(requestFingerprint('POST', '/v1/predictions', reordered)).toBe(requestFingerprint('post', '/v1/predictions', body));
  });
  it('differs with the body, the method, the path or the query', () => {
    const base = requestFingerprint('POST', '/v1/predictions', body);
    expect(requestFingerprint('POST', '/v1/predictions', { ...body, feature: 'other' })).not.toBe(base);
    expect(requestFingerprint('POST', '/v1/predictions', { ...body, input: { ...body.input, options: { a: 1, b: [2, 1] } } })).not.toBe(base);
    expect(requestFingerprint('PUT', '/v1/predictions', body)).not.toBe(base);
    expect(requestFingerprint('POST', '/v1/predictionz', body)).not.toBe(base);
    expect(requestFingerprint('POST', '/v1/predictions?x=1', body)).not.toBe(base);
  });
  it('compares a raw body byte for byte, and never equal to its JSON look-alike', () => {
    const a = requestFingerprint('POST', '/u', Buffer.from([1, 2, 3]));
    expect(requestFingerprint('POST', '/u', Buffer.from([1, 2, 3]))).toBe(a);
    expect(requestFingerprint('POST', '/u', Buffer.from([1, 2, 4]))).not.toBe(a);
    expect(requestFingerprint('POST', '/u', '"x"')).not.toBe(requestFingerprint('POST', '/u', 'x'));
  });
});

describe('decide', () => {
  const now = new Date('2026-12-01T05:00:00Z');
  const ttl = 24 * 3_600_000;
  const lock = 120_000;
  const at = (msAgo: number) => new Date(now.getTime() - msAgo);
  const rec = (state: 'in_flight' | 'done', ageMs: number, hash = 'h') => ({ requestHash: hash, state, createdAt: at(ageMs), lockedAt: at(ageMs) });
  it('claims a key never seen, or expired (at the TTL exactly)', () => {
    expect(decide(null, 'h', now, ttl, lock)).toBe('claim');
    expect(decide(rec('done', ttl), 'other', now, ttl, lock)).toBe('claim');
    expect(decide(rec('done', ttl - 1), 'h', now, ttl, lock)).toBe('replay');
  });
  it('replays the same request, refuses another one under the same key', () => {
    expect(decide(rec('done', 1_000), 'h', now, ttl, lock)).toBe('replay');
    expect(decide(rec('done', 1_000), 'x', now, ttl, lock)).toBe('mismatch');
    expect(decide(rec('in_flight', 1_000), 'x', now, ttl, lock)).toBe('mismatch');
  });
  it('is in flight while the first runs; an abandoned claim goes to the same request only', () => {
    expect(decide(rec('in_flight', lock - 1), 'h', now, ttl, lock)).toBe('in_flight');
    expect(decide(rec('in_flight', lock), 'h', now, ttl, lock)).toBe('claim');
    expect(decide(rec('in_flight', lock), 'x', now, ttl, lock)).toBe('mismatch');
  });
});

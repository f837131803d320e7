import { describe, expect, it } from '@jest/globals';
import { RedisSigner } from '#infra/redis';
import { apiKeyCacheKey, decodeSignedLookup, encodeSignedLookup, TOMBSTONE, type CachedKey } from './key-cache.js';

const signer = RedisSigner.fromSecret('k'.repeat(40));
const digest = 'a'.repeat(64);
const other = 'b'.repeat(64);
const entry: CachedKey = {
  digest,
  key: { keyId: 'key-1', orgId: 'org-1', mode: 'live', scopes: ['predict'], expiresAt: null, queuePriority: 5, rateLimitPerMinute: Infinity, orgRateLimitPerMinute: 600, rateLimitBurst: 300, maxConcurrentPredictions: 100, monthlyQuotaUnits: 100_000, quotaOverage: 'allow', billingStatus: 'active' },
};

describe('signed key-cache entries', () => {
  it('round-trip a key and a negative entry', () => {
    expect(decodeSignedLookup(signer, 'p', digest, encodeSignedLookup(signer, 'p', digest, entry))).toEqual(entry);
    expect(decodeSignedLookup(signer, 'p', digest, encodeSignedLookup(signer, 'p', digest, null))).toBeNull();
  });

  it('treat unsigned, altered, moved, tombstoned and other-prefix entries as misses', () => {
    const stored = encodeSignedLookup(signer, 'p', digest, entry);
    const json = stored.slice(stored.indexOf('.', 3) + 1);
    expect(decodeSignedLookup(signer, 'p', digest, json)).toBeUndefined();
    expect(decodeSignedLookup(signer, 'p', digest, stored.replace('org-1', 'org-2'))).toBeUndefined();
    expect(decodeSignedLookup(signer, 'p', other, stored)).toBeUndefined();
    expect(decodeSignedLookup(signer, 'p', other, stored.replace(digest, other))).toBeUndefined();
    expect(decodeSignedLookup(signer, 'q', digest, stored)).toBeUndefined();
    expect(decodeSignedLookup(signer, 'p', digest, TOMBSTONE)).toBeUndefined();
    expect(decodeSignedLookup(signer, 'p', digest, null)).toBeUndefined();
    // An entry signed for its name but naming another digest (cannot be written without the key; belt and braces).
    const mismatched = signer.sign(apiKeyCacheKey('p', other), json);
    expect(decodeSignedLookup(signer, 'p', other, mismatched)).toBeUndefined();
  });
});

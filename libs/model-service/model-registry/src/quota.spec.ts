import { describe, expect, it } from '@jest/globals';
import { exceededQuota } from './uploads.js';

describe('exceededQuota', () => {
  const quota = { maxVersions: 3, maxStorageBytes: 1000n };
  it('lets a version in up to the limits exactly', () => {
    expect(exceededQuota({ versions: 2, storageBytes: 400n }, quota, 600)).toBeNull();
    expect(exceededQuota({ versions: 0, storageBytes: 0n }, quota, 1000n)).toBeNull();
  });
  it('names the version quota first, then the storage quota, one past either', () => {
    expect(exceededQuota({ versions: 3, storageBytes: 0n }, quota, 1)).toBe('versions');
    expect(exceededQuota({ versions: 3, storageBytes: 1000n }, quota, 1)).toBe('versions');
    expect(exceededQuota({ versions: 2, storageBytes: 400n }, quota, 601)).toBe('storage');
  });
  it('counts past 2^53 bytes without rounding (storage is a BIGINT)', () => {
    const big = { maxVersions: 10, maxStorageBytes: 2n ** 60n };
    expect(exceededQuota({ versions: 1, storageBytes: 2n ** 60n - 1n }, big, 1)).toBeNull();
    expect(exceededQuota({ versions: 1, storageBytes: 2n ** 60n - 1n }, big, 2)).toBe('storage');
  });
});

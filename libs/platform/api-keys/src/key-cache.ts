// The shared (Redis) layer of API-key verification and its invalidation channel: plain
// functions, no Nest, so scripts and other processes can invalidate keys too.
import type { Redis } from 'ioredis';
import { redisKey, type RedisSigner } from '#infra/redis';
import type { KeyMode } from './key-format.js';

/** Who is calling: everything the hot path needs, resolved from the key. */
export interface AuthenticatedKey {
  keyId: string;
  orgId: string;
  mode: KeyMode;
  scopes: string[];
  expiresAt: number | null;
  /** BullMQ priority from the organization's plan. */
  queuePriority: number;
  rateLimitPerMinute: number;
  /** The plan's limits of the organization (per mode): rate, burst, predictions in flight (#platform/rate-limits). */
  orgRateLimitPerMinute: number;
  rateLimitBurst: number;
  maxConcurrentPredictions: number;
  /** The plan's monthly units (null: no quota) and what happens past them (#platform/quotas). */
  monthlyQuotaUnits: number | null;
  quotaOverage: 'block' | 'allow';
  /** The organization's billing status (Stripe mode): a suspended organization's predictions answer 402. */
  billingStatus: 'active' | 'past_due' | 'suspended';
}

/** A verified key with the digest it was stored under (compared again in constant time). */
export interface CachedKey {
  digest: string;
  key: AuthenticatedKey;
}

/** What a cache layer knows of a digest: a key, "no such (usable) key", or nothing (undefined). */
export type Lookup = CachedKey | null;

/**
 * Written over a digest's Redis entry when it is invalidated. Writers use SET NX, so a value
 * loaded from Postgres before the change cannot land after the invalidation; readers take it
 * as a miss and go to Postgres.
 */
export const TOMBSTONE = 'invalidated';
export const TOMBSTONE_TTL_MS = 10_000;
const DIGEST = /^[0-9a-f]{64}$/;

export function apiKeyCacheKey(prefix: string, digest: string): string {
  return redisKey(prefix, 'apikey', digest);
}

export function invalidationChannel(prefix: string): string {
  return redisKey(prefix, 'apikey', 'invalidate');
}

export function encodeLookup(value: Lookup): string {
  return JSON.stringify(value === null ? { none: true } : { d: value.digest, k: value.key });
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);

function isAuthenticatedKey(v: unknown): v is AuthenticatedKey {
  if (typeof v !== 'object' || v === null) return false;
  const k = v as Record<string, unknown>;
  return (
    isString(k.keyId) &&
    isString(k.orgId) &&
    (k.mode === 'live' || k.mode === 'test') &&
    Array.isArray(k.scopes) &&
    k.scopes.every(isString) &&
    (k.expiresAt === null || isNumber(k.expiresAt)) &&
    isNumber(k.queuePriority) &&
    // JSON has no Infinity: an unlimited rate is stored as null.
    (isNumber(k.rateLimitPerMinute) || k.rateLimitPerMinute === null) &&
    isNumber(k.orgRateLimitPerMinute) &&
    isNumber(k.rateLimitBurst) &&
    isNumber(k.maxConcurrentPredictions) &&
    (isNumber(k.monthlyQuotaUnits) || k.monthlyQuotaUnits === null) &&
    (k.quotaOverage === 'block' || k.quotaOverage === 'allow') &&
    (k.billingStatus === 'active' || k.billingStatus === 'past_due' || k.billingStatus === 'suspended')
  );
}

/** Parses a Redis cache entry; undefined for absent, tombstoned or unreadable entries (a miss). */
export function decodeLookup(raw: string | null): Lookup | undefined {
  if (raw === null || raw === TOMBSTONE) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.none === true) return null;
  if (!isString(o.d) || !DIGEST.test(o.d) || !isAuthenticatedKey(o.k)) return undefined;
  const key = { ...o.k, rateLimitPerMinute: o.k.rateLimitPerMinute ?? Infinity };
  return { digest: o.d, key };
}

/**
 * The Redis entry of a digest, signed (HMAC over the entry's key name and value, see
 * #infra/redis signing) so that whoever can write to Redis cannot grant a key scopes or an
 * organization, nor copy a valid entry under another digest.
 */
export function encodeSignedLookup(signer: RedisSigner, prefix: string, digest: string, value: Lookup): string {
  return signer.sign(apiKeyCacheKey(prefix, digest), encodeLookup(value));
}

/** A signed entry read back; a forged, moved, unsigned, tombstoned or unreadable one is a miss (undefined). */
export function decodeSignedLookup(signer: RedisSigner, prefix: string, digest: string, raw: string | null): Lookup | undefined {
  const opened = signer.open(apiKeyCacheKey(prefix, digest), raw);
  if (opened === undefined) return undefined;
  const value = decodeLookup(opened);
  // Belt and braces: the entry must name the digest it is stored under.
  if (value && value.digest !== digest) return undefined;
  return value;
}

/** The pub/sub message: digests joined by commas (they are hex, so the comma is unambiguous). */
export function encodeInvalidation(digests: readonly string[]): string {
  return digests.join(',');
}

/** Digests named by an invalidation message; anything that is not a digest is ignored. */
export function decodeInvalidation(message: string): string[] {
  return message.split(',').filter((d) => DIGEST.test(d));
}

/**
 * Makes every gateway instance forget the given key digests: tombstones their Redis cache
 * entries and publishes them on the invalidation channel (each instance drops them from its
 * in-process cache on receipt). Call it after the change is committed in Postgres.
 */
export async function publishKeyInvalidation(redis: Redis, prefix: string, digests: string[]): Promise<void> {
  const valid = digests.filter((d) => DIGEST.test(d));
  if (valid.length !== digests.length) throw new Error('publishKeyInvalidation: digests must be 64 lower-case hex characters');
  if (valid.length === 0) return;
  const tx = redis.multi();
  for (const d of valid) tx.set(apiKeyCacheKey(prefix, d), TOMBSTONE, 'PX', TOMBSTONE_TTL_MS);
  tx.publish(invalidationChannel(prefix), encodeInvalidation(valid));
  const results = await tx.exec();
  const failed = results?.find(([err]) => err !== null)?.[0];
  if (results === null || failed) throw failed ?? new Error('publishKeyInvalidation: transaction aborted');
}

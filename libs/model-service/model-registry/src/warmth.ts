/**
 * Which model versions some live worker holds warm, shared through Redis: each worker
 * adds itself to a sorted set per model version with its expiry time as the score and
 * refreshes it every few seconds; a reader counts the members that have not expired.
 * A worker that dies simply stops refreshing and drops out after the TTL.
 */
import type { Redis } from 'ioredis';
import type { ModelRef } from '#model-service/tensors';
import { PLATFORM_NAMESPACE } from './sync.js';

/** How long a worker's report counts without a refresh. */
export const WARM_TTL_MS = 15_000;
/** How often a worker refreshes its reports. */
export const WARM_REFRESH_MS = 5_000;

export function warmKey(prefix: string, ref: ModelRef, namespace: string = PLATFORM_NAMESPACE): string {
  return `${prefix}:model-warm:${namespace}:${ref.name}@${ref.version}`;
}

/** A warm model version; `namespace` defaults to the platform's (an uploaded version carries its org id). */
export type WarmRef = ModelRef & { namespace?: string };

/** Namespace of the "this worker consumes pool X" markers (reported like warm versions). */
export const POOL_MARKER_NAMESPACE = 'pool';

/**
 * The marker a worker reports for each pool it consumes: the tenant pool loads uploaded
 * versions on demand, so "a live worker serves the pool" is what its readiness means.
 */
export function poolMarker(pool: string): WarmRef {
  return { namespace: POOL_MARKER_NAMESPACE, name: pool, version: 'live' };
}

/** How many live workers consume `pool` (from their pool markers). */
export async function countPoolWorkers(redis: Redis, prefix: string, pool: string, now = Date.now()): Promise<number> {
  const [n] = await countWarm(redis, prefix, [poolMarker(pool)], POOL_MARKER_NAMESPACE, now);
  return n ?? 0;
}

/** Reports `refs` warm on worker `workerId` until now + ttl. */
export async function reportWarm(redis: Redis, prefix: string, workerId: string, refs: readonly WarmRef[], ttlMs = WARM_TTL_MS, now = Date.now()): Promise<void> {
  if (!refs.length) return;
  const multi = redis.multi();
  for (const ref of refs) {
    const key = warmKey(prefix, ref, ref.namespace);
    multi.zadd(key, now + ttlMs, workerId);
    multi.zremrangebyscore(key, '-inf', now);
    multi.pexpire(key, ttlMs * 2);
  }
  await multi.exec();
}

/** Withdraws this worker's reports (clean shutdown). */
export async function withdrawWarm(redis: Redis, prefix: string, workerId: string, refs: readonly WarmRef[]): Promise<void> {
  if (!refs.length) return;
  const multi = redis.multi();
  for (const ref of refs) multi.zrem(warmKey(prefix, ref, ref.namespace), workerId);
  await multi.exec();
}

/** For each ref (same order), how many live workers hold it warm. */
export async function countWarm(redis: Redis, prefix: string, refs: readonly ModelRef[], namespace: string = PLATFORM_NAMESPACE, now = Date.now()): Promise<number[]> {
  if (!refs.length) return [];
  const multi = redis.multi();
  for (const ref of refs) multi.zcount(warmKey(prefix, ref, namespace), `(${now}`, '+inf');
  const results = (await multi.exec()) ?? [];
  return refs.map((_, i) => {
    const [err, value] = results[i] ?? [null, 0];
    if (err) throw err;
    return Number(value);
  });
}

/** A stored Idempotency-Key as the decision needs it. */
export interface StoredKey {
  requestHash: string;
  state: 'in_flight' | 'done';
  createdAt: Date;
  lockedAt: Date;
}

export type IdempotencyDecision =
  /** No live record: claim it and run the request. */
  | 'claim'
  /** The first request finished: answer its response again. */
  | 'replay'
  /** Another body (or method, or path) under the same key: 422. */
  | 'mismatch'
  /** The first request is still running: 409. */
  | 'in_flight';

/**
 * What to do with a request carrying a key that has a record. Pure. An expired record
 * (older than `ttlMs`) is as good as none; an in-flight claim older than `lockMs` (its
 * gateway died mid-request) may be taken over by the same request, never by another body.
 */
export function decide(stored: StoredKey | null, requestHash: string, now: Date, ttlMs: number, lockMs: number): IdempotencyDecision {
  if (stored === null || stored.createdAt.getTime() + ttlMs <= now.getTime()) return 'claim';
  if (stored.requestHash !== requestHash) return 'mismatch';
  if (stored.state === 'done') return 'replay';
  return stored.lockedAt.getTime() + lockMs <= now.getTime() ? 'claim' : 'in_flight';
}

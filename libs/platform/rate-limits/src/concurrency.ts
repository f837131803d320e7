import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '#infra/config';
import { ProblemError } from '#infra/errors';
import { RedisClient } from '#infra/redis';
import type { LifecycleConsumer, LifecycleEvent } from '#platform/predictions';

/** What the cap needs to know of a verified key. */
export interface ConcurrencySubject {
  orgId: string;
  mode: 'live' | 'test';
  maxConcurrentPredictions: number;
}

/** A slot held by one prediction being created (first under a pending name, then under its id). */
export interface ConcurrencySlot {
  set: string;
  member: string;
  orgId: string;
  mode: 'live' | 'test';
}

/** How long a final prediction's release is remembered (covers a release that overtakes the bind). */
const RELEASED_TTL_MS = 5 * 60_000;
/** A pending slot outlives the longest wait of its request by this much. */
const PENDING_GRACE_MS = 30_000;
/** A bound slot outlives the prediction's deadline by this much (recovery fails it by then). */
const BOUND_GRACE_MS = 120_000;

/**
 * In-flight predictions of an organization (per mode): a sorted set of slots scored by the
 * time they lapse. ACQUIRE drops lapsed slots, then adds one below the cap or refuses. Every
 * slot lapses by itself (a crashed gateway leaks nothing for longer than the prediction's deadline).
 */
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then return {0, n} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return {1, n + 1}
`;

/** Renames a pending slot to its prediction's id, unless the prediction was already released. */
const BIND_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
`;

const REDIS_TIMEOUT_MS = 250;

async function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('redis timed out')), REDIS_TIMEOUT_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

type Scripts = {
  stratumSlotAcquire(set: string, cap: number, member: string, ttl: number, setTtl: number): Promise<[number, number]>;
  stratumSlotBind(set: string, released: string, pending: string, id: string, ttl: number): Promise<number>;
};

/**
 * The cap on predictions in flight per organization and mode (the plan's
 * `maxConcurrentPredictions`), which also bounds the `Prefer: wait` connections held open.
 * A slot is taken at admission, bound to the prediction's id once it exists and given back
 * when the prediction reaches a final state (ConcurrencyConsumer, from the lifecycle events),
 * or at once when it was already final at the response (a `Prefer: wait` that saw it finish).
 */
@Injectable()
export class ConcurrencyLimiter {
  private readonly logger = new Logger('ConcurrencyLimiter');
  private warned = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly config: AppConfig,
  ) {
    this.redis.redis.defineCommand('stratumSlotAcquire', { numberOfKeys: 1, lua: ACQUIRE_SCRIPT });
    this.redis.redis.defineCommand('stratumSlotBind', { numberOfKeys: 2, lua: BIND_SCRIPT });
  }

  private get scripts(): Scripts {
    return this.redis.redis as unknown as Scripts;
  }

  setKey(orgId: string, mode: string): string {
    return this.redis.key('inflight', `{${orgId}:${mode}}`);
  }

  private releasedKey(orgId: string, mode: string, predictionId: string): string {
    return this.redis.key('inflight', `{${orgId}:${mode}}`, 'released', predictionId);
  }

  private get boundTtlMs(): number {
    return this.config.env.PREDICTION_DEADLINE_SECONDS * 1000 + BOUND_GRACE_MS;
  }

  /**
   * Takes a slot or throws 429 `concurrency_limited`. `waitMs`: how long the request may hold
   * it before its prediction exists. Null when Redis fails: the cap is not enforced then (as the
   * rate limits), the prediction itself is still accepted or refused by the lifecycle.
   */
  async acquire(s: ConcurrencySubject, waitMs: number): Promise<ConcurrencySlot | null> {
    const slot: ConcurrencySlot = { set: this.setKey(s.orgId, s.mode), member: `pending:${randomUUID()}`, orgId: s.orgId, mode: s.mode };
    let reply: [number, number];
    try {
      reply = await withTimeout(this.scripts.stratumSlotAcquire(slot.set, s.maxConcurrentPredictions, slot.member, waitMs + PENDING_GRACE_MS, Math.max(this.boundTtlMs, waitMs + PENDING_GRACE_MS)));
    } catch (e) {
      this.failed(e);
      return null;
    }
    const [ok, n] = reply;
    if (Number(ok) !== 1) {
      throw new ProblemError('concurrency_limited', `The organization has ${Number(n)} predictions in flight, its plan's limit (${s.maxConcurrentPredictions}); retry when one finishes.`, {
        extensions: { limit: 'concurrency', in_flight: Number(n), max_in_flight: s.maxConcurrentPredictions },
        headers: { 'retry-after': '1' },
      });
    }
    return slot;
  }

  /** After the create: a final (or replayed) prediction gives the slot back, an unfinished one keeps it under its id. */
  async settle(slot: ConcurrencySlot | null, prediction: { id: string; final: boolean; replayed: boolean }): Promise<void> {
    if (!slot) return;
    if (prediction.final || prediction.replayed) return this.release(slot);
    try {
      await withTimeout(this.scripts.stratumSlotBind(slot.set, this.releasedKey(slot.orgId, slot.mode, prediction.id), slot.member, prediction.id, this.boundTtlMs));
    } catch (e) {
      this.failed(e); // the pending slot lapses by itself
    }
  }

  /** Gives a pending slot back (the create failed or needs none). */
  async release(slot: ConcurrencySlot | null): Promise<void> {
    if (!slot) return;
    try {
      await withTimeout(this.redis.redis.zrem(slot.set, slot.member));
    } catch (e) {
      this.failed(e); // the pending slot lapses by itself
    }
  }

  private failed(e: unknown): void {
    if (!this.warned) this.logger.warn(`concurrency cap not enforced while Redis fails: ${e instanceof Error ? e.message : String(e)}`);
    this.warned = true;
  }

  /** Gives back the slots of predictions that reached a final state (idempotent). */
  async releasePredictions(items: readonly { orgId: string; mode: string; predictionId: string }[]): Promise<void> {
    if (!items.length) return;
    const tx = this.redis.redis.pipeline();
    for (const i of items) {
      tx.zrem(this.setKey(i.orgId, i.mode), i.predictionId);
      tx.set(this.releasedKey(i.orgId, i.mode, i.predictionId), '1', 'PX', RELEASED_TTL_MS);
    }
    const results = await tx.exec();
    const failed = results?.find(([err]) => err !== null)?.[0];
    if (failed) throw failed;
  }

  /** Slots held now (lapsed ones not counted). */
  async inFlight(orgId: string, mode: string): Promise<number> {
    return this.redis.redis.zcount(this.setKey(orgId, mode), Date.now(), '+inf');
  }
}

/** Releases a prediction's concurrency slot when it succeeds, fails or is canceled. */
@Injectable()
export class ConcurrencyConsumer implements LifecycleConsumer {
  readonly name = 'concurrency';
  readonly types = ['prediction.succeeded', 'prediction.failed', 'prediction.canceled'] as const;

  constructor(private readonly limiter: ConcurrencyLimiter) {}

  async handle(event: LifecycleEvent): Promise<void> {
    await this.handleBatch([event]);
  }

  async handleBatch(events: LifecycleEvent[]): Promise<void> {
    await this.limiter.releasePredictions(events.map((e) => ({ orgId: e.orgId, mode: e.data.mode, predictionId: e.predictionId })));
  }
}

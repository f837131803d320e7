import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { PrismaClient, uuidv7Timestamp } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { RedisClient } from '#infra/redis';
import { INIT_SCRIPT, RESERVE_SCRIPT, SETTLE_SCRIPT, remaining, type QuotaLimit, type QuotaState } from './decision.js';
import { monthPeriod, periodSeconds, secondsToReset, uuidv7Bounds, type QuotaPeriod } from './period.js';

export type QuotaMode = 'live' | 'test';

export interface QuotaScope {
  orgId: string;
  mode: QuotaMode;
}

/**
 * Injection token: `(feature, featureVersion) => units` a prediction of that feature reserves
 * (the feature's unit count; 1 when it is known only after the call). The gateway provides it
 * from the feature catalogue; a rebuild uses it for the predictions still running.
 */
export const QUOTA_ESTIMATOR = Symbol('QUOTA_ESTIMATOR');
export type QuotaEstimator = (feature: string, featureVersion: string) => number;

/** What an admission saw, for the response headers. */
export interface QuotaOutcome {
  limit: number | null;
  overage: QuotaLimit['overage'];
  /** State after this reservation. */
  state: QuotaState;
  period: QuotaPeriod;
  now: Date;
}

/** Counters outlive their month by this much (a late settlement still finds its reservation). */
const KEEP_AFTER_PERIOD_S = 35 * 86_400;
/** The sweep repairs reservations older than this (a submission stores its row within milliseconds of reserving). */
export const SWEEP_GRACE_MS = 120_000;
const RESERVATIONS_KEY = /\{([0-9a-f-]{36}):(live|test):\d{4}-\d{2}\}:r$/;

/** The scripts as ioredis defines them (`defineCommand`). */
interface QuotaScripts {
  stratumQuotaReserve(...keysAndArgs: string[]): Promise<[number, number, number]>;
  stratumQuotaSettle(...keysAndArgs: string[]): Promise<number>;
}

/**
 * Monthly unit quotas. The counter of an (organization, mode, month) lives in Redis as a hash
 * {used, reserved} next to a hash of reservations {predictionId: units}; admission is one Lua
 * script (reserve if the decision admits), settlement another (idempotent by prediction id).
 * The truth is Postgres: a missing counter (a Redis flush, an eviction, a new month) is rebuilt
 * from the usage ledger and the unfinished predictions before anything is admitted.
 */
@Injectable()
export class QuotaService {
  private readonly logger = new Logger('Quotas');
  private readonly plans = new Map<string, { limit: QuotaLimit; at: number }>();

  constructor(
    private readonly db: PrismaClient,
    private readonly redis: RedisClient,
    private readonly config: AppConfig,
    @Inject(QUOTA_ESTIMATOR) private readonly estimate: QuotaEstimator,
  ) {
    // Sent by SHA (EVALSHA, loaded on first use): the hot path does not ship the script each call.
    this.redis.redis.defineCommand('stratumQuotaReserve', { numberOfKeys: 2, lua: RESERVE_SCRIPT });
    this.redis.redis.defineCommand('stratumQuotaSettle', { numberOfKeys: 2, lua: SETTLE_SCRIPT });
  }

  private get scripts(): QuotaScripts {
    return this.redis.redis as unknown as QuotaScripts;
  }

  keys(scope: QuotaScope, period: QuotaPeriod): [string, string] {
    // One hash tag per counter: both keys of a script call sit in one Redis Cluster slot.
    const base = this.redis.key('quota', `{${scope.orgId}:${scope.mode}:${period.id}}`);
    return [base, `${base}:r`];
  }

  /** The limit of a scope: the plan's (cached QUOTA_PLAN_CACHE_MS per process) in live mode, QUOTA_TEST_UNITS_PER_MONTH (always blocking) in test mode. */
  async limitFor(scope: QuotaScope): Promise<QuotaLimit> {
    if (scope.mode === 'test') return { limit: this.config.env.QUOTA_TEST_UNITS_PER_MONTH, overage: 'block' };
    const hit = this.plans.get(scope.orgId);
    const now = Date.now();
    if (hit && now - hit.at < this.config.env.QUOTA_PLAN_CACHE_MS) return hit.limit;
    const org = await this.db.organization.findUnique({ where: { id: scope.orgId }, select: { plan: { select: { monthlyQuotaUnits: true, quotaOverage: true } } } });
    const limit: QuotaLimit = org ? { limit: org.plan.monthlyQuotaUnits, overage: org.plan.quotaOverage } : { limit: 0, overage: 'block' };
    if (this.plans.size > 10_000) this.plans.clear();
    this.plans.set(scope.orgId, { limit, at: now });
    return limit;
  }

  /**
   * Reserves `units` for the prediction `predictionId` (its UUIDv7 dates it into a period), or
   * throws 429 quota_exceeded. A second reservation of the same id changes nothing. `plan`: the
   * live limit as the caller's verified API key carries it (the key cache is invalidated on every
   * gateway when the plan changes, so a plan change applies within a second); without it the
   * plan is read (cached QUOTA_PLAN_CACHE_MS).
   */
  async reserve(scope: QuotaScope, predictionId: string, units: number, plan?: QuotaLimit): Promise<QuotaOutcome> {
    // Fail fast (the queue is on the same Redis: nothing could be enqueued anyway) instead of waiting in ioredis' offline queue.
    if (this.redis.redis.status !== 'ready') throw new ProblemError('queue_unavailable', 'The queue is unreachable right now; retry shortly.', { headers: { 'retry-after': '5' } });
    const now = new Date(uuidv7Timestamp(predictionId));
    const period = monthPeriod(now);
    const q = plan && scope.mode === 'live' ? plan : await this.limitFor(scope);
    const keys = this.keys(scope, period);
    const args = [String(units), String(q.limit ?? -1), q.overage, predictionId];
    let r = await this.reserveScript(keys, args);
    if (r[0] === -1) {
      await this.rebuild(scope, period, 'init');
      r = await this.reserveScript(keys, args);
      if (r[0] === -1) throw new Error('quota counter missing right after its rebuild');
    }
    const state = { used: r[1], reserved: r[2] };
    const outcome: QuotaOutcome = { limit: q.limit, overage: q.overage, state, period, now };
    if (r[0] === 0) {
      const left = remaining(state, q.limit) ?? 0;
      throw new ProblemError(
        'quota_exceeded',
        `The ${scope.mode} quota of ${q.limit} units for ${period.id} is used up (${state.used} used, ${state.reserved} reserved by running predictions, ${left} left; this prediction needs ${units}). It resets at ${period.end.toISOString()}.`,
        { headers: { 'retry-after': String(secondsToReset(period, Date.now())), ...quotaHeaders(outcome) }, extensions: { limit: q.limit, used: state.used, reserved: state.reserved, period: period.id, resets_at: period.end.toISOString() } },
      );
    }
    return outcome;
  }

  /** Settles a prediction's reservation: to `actual` units, or gives it back (null). Idempotent. */
  async settle(scope: QuotaScope, predictionId: string, actual: number | null): Promise<boolean> {
    const period = monthPeriod(uuidv7Timestamp(predictionId));
    const done = await this.scripts.stratumQuotaSettle(...this.keys(scope, period), predictionId, String(actual ?? -1));
    return done === 1;
  }

  /**
   * Gives a reservation back when its prediction was never stored (the submission failed
   * before its row was written); a stored one is settled by its lifecycle events instead.
   */
  async abandon(scope: QuotaScope, predictionId: string): Promise<void> {
    const stored = await this.db.prediction.findUnique({ where: { id: predictionId }, select: { id: true } });
    if (!stored) await this.settle(scope, predictionId, null);
  }

  /**
   * Rebuilds a counter from Postgres: `used` is the usage ledger's units of the period's
   * predictions plus succeeded ones the ledger has not recorded yet; each unfinished prediction
   * holds a reservation of its estimate. 'init' installs it only if the counter is missing
   * (concurrent rebuilds: the first wins), 'force' replaces it (an operator's repair; racing
   * admissions may be lost, so not on the hot path). Returns what it computed.
   */
  async rebuild(scope: QuotaScope, period: QuotaPeriod, how: 'init' | 'force'): Promise<QuotaState> {
    const { lower, upper } = uuidv7Bounds(period);
    const [ledger] = await this.db.$queryRaw<{ units: bigint | null }[]>`
      SELECT sum(units)::bigint AS units FROM "UsageEvent"
      WHERE "orgId" = ${scope.orgId}::uuid AND mode = ${scope.mode}::"KeyMode" AND id >= ${lower}::uuid AND id < ${upper}::uuid`;
    const open = await this.db.$queryRaw<{ id: string; feature: string; featureVersion: string; status: string; units: number | null }[]>`
      SELECT p.id::text AS id, p.feature, p."featureVersion", p.status::text AS status, p.units FROM "Prediction" p
      WHERE p."orgId" = ${scope.orgId}::uuid AND p.mode = ${scope.mode}::"KeyMode" AND p.id >= ${lower}::uuid AND p.id < ${upper}::uuid
        AND (p.status IN ('starting', 'processing')
             OR (p.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM "UsageEvent" u WHERE u.id = p.id)))`;
    let used = Number(ledger?.units ?? 0n);
    const pairs: string[] = [];
    let reserved = 0;
    for (const p of open) {
      if (p.status === 'succeeded') used += p.units ?? 0;
      else {
        const n = this.estimate(p.feature, p.featureVersion);
        pairs.push(p.id, String(n));
        reserved += n;
      }
    }
    const ttl = secondsToReset(period, Date.now()) + KEEP_AFTER_PERIOD_S;
    const wrote = await this.redis.redis.eval(INIT_SCRIPT, 2, ...this.keys(scope, period), how, String(used), String(ttl), ...pairs);
    if (wrote === 1 && used + reserved > 0) this.logger.log(`rebuilt the ${scope.mode} quota counter of ${scope.orgId} for ${period.id} from the ledger: used ${used}, reserved ${reserved}`);
    return { used, reserved };
  }

  /**
   * Repairs reservations the lifecycle will never settle: older than SWEEP_GRACE_MS (their
   * UUIDv7 says when they were made) and either without a stored prediction (the gateway died
   * between the reservation and the insert) or already finished (settled here as the consumer
   * would, idempotently). Running predictions keep theirs. Safe to run on every gateway at once.
   */
  async sweep(now = Date.now()): Promise<{ released: number; settled: number }> {
    const done = { released: 0, settled: 0 };
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.redis.scan(cursor, 'MATCH', this.redis.key('quota', '*:r'), 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const m = RESERVATIONS_KEY.exec(key);
        if (!m) continue;
        const scope: QuotaScope = { orgId: m[1]!, mode: m[2] as QuotaMode };
        const ids = Object.keys(await this.redis.redis.hgetall(key)).filter((id) => now - uuidv7Timestamp(id) > SWEEP_GRACE_MS);
        if (!ids.length) continue;
        const rows = new Map((await this.db.prediction.findMany({ where: { id: { in: ids } }, select: { id: true, status: true, units: true } })).map((r) => [r.id, r]));
        for (const id of ids) {
          const row = rows.get(id);
          if (row && (row.status === 'starting' || row.status === 'processing')) continue;
          const actual = row?.status === 'succeeded' ? (row.units ?? 0) : null;
          if (await this.settle(scope, id, actual)) done[row ? 'settled' : 'released']++;
        }
      }
    } while (cursor !== '0');
    if (done.released + done.settled) this.logger.warn(`quota sweep: released ${done.released} orphaned reservations, settled ${done.settled} finished ones`);
    return done;
  }

  /** The counter as Redis holds it (null when missing). */
  async current(scope: QuotaScope, period: QuotaPeriod): Promise<QuotaState | null> {
    const h = await this.redis.redis.hgetall(this.keys(scope, period)[0]);
    if (h['used'] === undefined) return null;
    return { used: Number(h['used']), reserved: Number(h['reserved'] ?? 0) };
  }

  private async reserveScript(keys: [string, string], args: string[]): Promise<[number, number, number]> {
    const r = await this.scripts.stratumQuotaReserve(...keys, ...args);
    return [Number(r[0]), Number(r[1]), Number(r[2])];
  }
}

/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers) for the policy named
 * "quota": `q` units per `w` seconds (the month), `r` left and `t` seconds until the reset.
 * None for an unlimited plan.
 */
export function quotaHeaders(o: QuotaOutcome): Record<string, string> {
  if (o.limit === null) return {};
  const left = remaining(o.state, o.limit) ?? 0;
  return {
    'ratelimit-policy': `"quota";q=${o.limit};w=${periodSeconds(o.period)}`,
    ratelimit: `"quota";r=${left};t=${secondsToReset(o.period, o.now)}`,
  };
}

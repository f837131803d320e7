import { Controller, Get, Injectable, Query, Res, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { PrismaClient } from '#infra/db';
import { parseQuery, ProblemError } from '#infra/errors';
import { monthPeriod, QuotaService, uuidv7Bounds } from '#platform/quotas';
import { CurrentActor, OrgGuard, RequirePermission, type Actor } from '#platform/tenancy';
import { ApiContract } from '../openapi/contract.js';
import { VIEWS } from '../openapi/views.js';
import { statsQuery, statsView, type StatsRow, type StatsView } from './traffic-stats.js';

const dateTime = z.iso.datetime();
const nullableMs = z.number().int().nullable();
VIEWS.add(
  z.object({
    object: z.literal('stats'),
    mode: z.enum(['live', 'test']),
    window: z.object({ start: dateTime, end: dateTime }),
    predictions: z.object({ total: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), canceled: z.number().int(), pending: z.number().int(), error_rate: z.number().nullable().describe('failed / (succeeded + failed); null when none finished') }),
    latency_ms: z.object({ p50: nullableMs, p95: nullableMs }).describe('Creation to completion of succeeded predictions in the window'),
    rate_limit: z.object({
      per_minute: z.number().int(),
      burst: z.number().int(),
      peak_per_minute: z.number().int().describe('Predictions submitted in the busiest minute of the last hour'),
      headroom_per_minute: z.number().int(),
      max_concurrent: z.number().int(),
      in_flight: z.number().int(),
    }),
    quota: z.object({ period: z.object({ start: dateTime, end: dateTime }), included_units: z.number().int().nullable().describe('null: unlimited'), used_units: z.number().int(), overage: z.string() }),
  }),
  { id: 'Stats' },
);

/** Reads the figures of GET /v1/orgs/{org}/stats from Postgres (predictions) and the quota counter. */
@Injectable()
export class StatsService {
  constructor(
    private readonly db: PrismaClient,
    private readonly quotas: QuotaService,
  ) {}

  async stats(orgId: string, mode: 'live' | 'test', windowHours: number, now = new Date()): Promise<StatsView> {
    const window = { id: 'window', start: new Date(now.getTime() - windowHours * 3_600_000), end: new Date(now.getTime() + 1) };
    const hour = { id: 'hour', start: new Date(now.getTime() - 3_600_000), end: window.end };
    const w = uuidv7Bounds(window);
    const h = uuidv7Bounds(hour);
    // UUIDv7 ids carry their creation time: the (orgId, mode, id) index bounds the scan to the window.
    const [rows, peakRows, org] = await Promise.all([
      this.db.$queryRaw<StatsRow[]>`
        SELECT count(*)::int AS total,
          (count(*) FILTER (WHERE status = 'succeeded'))::int AS succeeded,
          (count(*) FILTER (WHERE status = 'failed'))::int AS failed,
          (count(*) FILTER (WHERE status = 'canceled'))::int AS canceled,
          (count(*) FILTER (WHERE status IN ('starting', 'processing')))::int AS pending,
          (percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ("completedAt" - "createdAt")) * 1000) FILTER (WHERE status = 'succeeded' AND "completedAt" IS NOT NULL))::float8 AS p50,
          (percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM ("completedAt" - "createdAt")) * 1000) FILTER (WHERE status = 'succeeded' AND "completedAt" IS NOT NULL))::float8 AS p95
        FROM "Prediction" WHERE "orgId" = ${orgId}::uuid AND mode = ${mode}::"KeyMode" AND id >= ${w.lower}::uuid AND id < ${w.upper}::uuid`,
      this.db.$queryRaw<{ peak: number }[]>`
        SELECT coalesce(max(n), 0)::int AS peak FROM (
          SELECT count(*) AS n FROM "Prediction" WHERE "orgId" = ${orgId}::uuid AND mode = ${mode}::"KeyMode" AND id >= ${h.lower}::uuid AND id < ${h.upper}::uuid
          GROUP BY date_trunc('minute', "createdAt")) m`,
      this.db.organization.findUnique({ where: { id: orgId }, select: { plan: { select: { rateLimitPerMinute: true, rateLimitBurst: true, maxConcurrentPredictions: true } } } }),
    ]);
    if (!org) throw new ProblemError('not_found', 'No such organization.');
    const period = monthPeriod(now);
    const scope = { orgId, mode };
    const [limit, state] = await Promise.all([this.quotas.limitFor(scope), this.quotas.current(scope, period)]);
    const used = (state ?? (await this.quotas.rebuild(scope, period, 'init'))).used;
    return statsView({
      mode,
      window: { start: window.start, end: now },
      row: rows[0] ?? { total: 0, succeeded: 0, failed: 0, canceled: 0, pending: 0, p50: null, p95: null },
      peakPerMinute: peakRows[0]?.peak ?? 0,
      plan: org.plan,
      quota: { period, limit: limit.limit, overage: limit.overage, used },
    });
  }
}

@ApiTags('usage')
@ApiParam({ name: 'org', description: 'Organization id or slug' })
@UseGuards(OrgGuard)
@Controller('v1/orgs/:org/stats')
export class StatsController {
  constructor(private readonly service: StatsService) {}

  @Get()
  @RequirePermission('usage:read')
  @ApiOperation({
    summary: 'Traffic figures: predictions, error rate, p50/p95 latency, rate-limit headroom and quota use',
    description:
      "What the dashboard's overview shows beside the usage and the upcoming invoice. Error rate = failed / (succeeded + failed) in the window; latency = creation to completion of succeeded predictions; headroom = the plan's per-minute rate minus the busiest minute of the last hour; quota = units used this calendar month (UTC) against the plan's included units. A test-mode key sees test traffic only.",
  })
  @ApiContract({ query: statsQuery, responses: { 200: { description: 'The figures', schema: 'Stats' } } })
  async get(@CurrentActor() actor: Actor, @Query() query: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply): Promise<StatsView> {
    const q = parseQuery(statsQuery, query);
    if (actor.kind === 'api_key' && actor.mode === 'test' && q.mode === 'live') throw new ProblemError('forbidden', 'A test-mode key sees test traffic only (mode=test).');
    void reply.header('cache-control', 'no-store');
    return this.service.stats(actor.orgId, q.mode, q.window_hours);
  }
}

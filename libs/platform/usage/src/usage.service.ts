import { Injectable } from '@nestjs/common';
import { Prisma, PrismaClient } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { billingPeriod, exactAmount, invoiceTotal, planSegments, roundAmount, segmentLines, unitPriceOf, type FeatureUsage, type InvoiceLine } from '#platform/pricing';
import { changeCuts, loadOrgBilling, planOfSegment, pricingAt, type OrgBilling } from './billing-context.js';
import type { UsageDimension, UsageRequest } from './usage-query.js';

const ts = (d: Date): Prisma.Sql => Prisma.sql`(${d.toISOString()}::timestamptz AT TIME ZONE 'UTC')`;
const isoArray = (ds: readonly Date[]): Prisma.Sql => Prisma.sql`${ds.map((d) => d.toISOString())}::timestamptz[]`;

export interface UsageRow {
  start: string;
  end: string;
  feature?: string;
  api_key_id?: string;
  model?: string;
  mode?: 'live' | 'test';
  calls: number;
  units: number;
  amount: number;
}

export interface UsageReport {
  object: 'usage';
  from: string;
  to: string;
  granularity: UsageRequest['granularity'];
  time_zone: string;
  group_by: UsageDimension[];
  currency: string;
  data: UsageRow[];
  totals: { calls: number; units: number; amount: number };
}

export interface UpcomingInvoice {
  object: 'upcoming_invoice';
  plan: { key: string; name: string };
  currency: string;
  period: { start: string; end: string };
  lines: InvoiceLine[];
  subtotal: number;
  total: number;
}

interface RollupGroup {
  start: Date;
  end: Date;
  feature: string;
  apiKeyId: string;
  model: string;
  mode: 'live' | 'test';
  seg: number;
  calls: bigint;
  units: bigint;
}

const DIM_FIELD: Record<UsageDimension, 'feature' | 'apiKeyId' | 'model' | 'mode'> = { feature: 'feature', key: 'apiKeyId', model: 'model', mode: 'mode' };

/**
 * Usage and the upcoming invoice, read from the rollups only (never the raw events): a query
 * touches at most (range ÷ 15 min) × dimension sets rows of one organization, whatever the
 * number of events behind them.
 */
@Injectable()
export class UsageService {
  constructor(private readonly db: PrismaClient) {}

  private async billing(orgId: string): Promise<OrgBilling> {
    const b = (await loadOrgBilling(this.db, [orgId])).get(orgId);
    if (!b) throw new ProblemError('not_found', 'No such organization.');
    return b;
  }

  async usage(orgId: string, r: UsageRequest): Promise<UsageReport> {
    const b = await this.billing(orgId);
    const cuts = changeCuts(b);
    const local = Prisma.sql`((r."bucket" AT TIME ZONE 'UTC') AT TIME ZONE ${r.timeZone})`;
    // Hours follow the UTC instant (no ambiguity when clocks go back); days and months the wall clock of the zone.
    const start =
      r.granularity === 'hour'
        ? Prisma.sql`((r."bucket" - extract(minute FROM ${local})::int * interval '1 minute') AT TIME ZONE 'UTC')`
        : Prisma.sql`(date_trunc(${r.granularity}, ${local}) AT TIME ZONE ${r.timeZone})`;
    const end =
      r.granularity === 'hour'
        ? Prisma.sql`((r."bucket" - extract(minute FROM ${local})::int * interval '1 minute' + interval '1 hour') AT TIME ZONE 'UTC')`
        : Prisma.sql`((date_trunc(${r.granularity}, ${local}) + ${'1 ' + r.granularity}::interval) AT TIME ZONE ${r.timeZone})`;
    const filters: Prisma.Sql[] = [];
    if (r.filter.feature !== undefined) filters.push(Prisma.sql`AND r."feature" = ${r.filter.feature}`);
    if (r.filter.apiKeyId !== undefined) filters.push(Prisma.sql`AND r."apiKeyId" = ${r.filter.apiKeyId}::uuid`);
    if (r.filter.model !== undefined) filters.push(Prisma.sql`AND r."model" = ${r.filter.model}`);
    if (r.filter.mode !== undefined) filters.push(Prisma.sql`AND r."mode" = ${r.filter.mode}::"KeyMode"`);
    const rows = await this.db.$queryRaw<RollupGroup[]>`
      SELECT ${start} AS "start", ${end} AS "end", r."feature", r."apiKeyId"::text AS "apiKeyId", r."model", r."mode"::text AS "mode",
             (SELECT count(*) FROM unnest(${isoArray(cuts)}) c WHERE c <= (r."bucket" AT TIME ZONE 'UTC'))::int AS "seg",
             sum(r."calls")::bigint AS "calls", sum(r."units")::bigint AS "units"
      FROM "UsageRollup" r
      WHERE r."orgId" = ${orgId}::uuid AND r."bucket" >= ${ts(r.from)} AND r."bucket" < ${ts(r.to)} ${filters.length ? Prisma.join(filters, ' ') : Prisma.empty}
      GROUP BY 1, 2, 3, 4, 5, 6, 7`;
    const groups = new Map<string, { row: Omit<UsageRow, 'amount'>; exact: bigint; sort: (string | number)[] }>();
    for (const g of rows) {
      const s = new Date(Math.max(g.start.getTime(), r.from.getTime()));
      const e = new Date(Math.min(g.end.getTime(), r.to.getTime()));
      const dims = r.groupBy.map((d) => g[DIM_FIELD[d]]);
      const key = [s.getTime(), ...dims].join('\u0000');
      let acc = groups.get(key);
      if (!acc) {
        const row: Omit<UsageRow, 'amount'> = { start: s.toISOString(), end: e.toISOString(), calls: 0, units: 0 };
        if (r.groupBy.includes('feature')) row.feature = g.feature;
        if (r.groupBy.includes('key')) row.api_key_id = g.apiKeyId;
        if (r.groupBy.includes('model')) row.model = g.model;
        if (r.groupBy.includes('mode')) row.mode = g.mode;
        acc = { row, exact: 0n, sort: [s.getTime(), ...dims] };
        groups.set(key, acc);
      }
      acc.row.calls += Number(g.calls);
      acc.row.units += Number(g.units);
      // Test usage is never billed: its amount is 0.
      if (g.mode === 'live') acc.exact += exactAmount(g.units, unitPriceOf(g.feature, planOfSegment(b, cuts, g.seg), b.orgPrices));
    }
    const data = [...groups.values()]
      .sort((x, y) => {
        for (let i = 0; i < x.sort.length; i++) if (x.sort[i] !== y.sort[i]) return x.sort[i]! < y.sort[i]! ? -1 : 1;
        return 0;
      })
      .map((a) => ({ ...a.row, amount: roundAmount(a.exact) }));
    const totals = data.reduce((t, d) => ({ calls: t.calls + d.calls, units: t.units + d.units, amount: t.amount + d.amount }), { calls: 0, units: 0, amount: 0 });
    return { object: 'usage', from: r.from.toISOString(), to: r.to.toISOString(), granularity: r.granularity, time_zone: r.timeZone, group_by: r.groupBy, currency: pricingAt(b, new Date()).currency, data, totals };
  }

  /** The current period's invoice so far, from the ledger (live usage only): a line per plan segment and feature. */
  async upcoming(orgId: string, now = new Date()): Promise<UpcomingInvoice> {
    const b = await this.billing(orgId);
    const period = billingPeriod(now);
    const segments = planSegments(period, b.currentPlanId, b.changes);
    const rows = await this.db.$queryRaw<{ feature: string; unitType: string; seg: number; units: bigint }[]>`
      SELECT r."feature", min(r."unitType") AS "unitType",
             (SELECT count(*) FROM unnest(${isoArray(segments.slice(1).map((s) => s.start))}) c WHERE c <= (r."bucket" AT TIME ZONE 'UTC'))::int AS "seg",
             sum(r."units")::bigint AS "units"
      FROM "UsageRollup" r
      WHERE r."orgId" = ${orgId}::uuid AND r."mode" = 'live' AND r."bucket" >= ${ts(period.start)} AND r."bucket" < ${ts(period.end)}
      GROUP BY 1, 3`;
    const lines = segments.flatMap((s, i) => {
      const plan = b.plans.get(s.planId);
      if (!plan) throw new Error(`plan ${s.planId} not found`);
      const usage: FeatureUsage[] = rows.filter((r) => r.seg === i).map((r) => ({ feature: r.feature, unitType: r.unitType, units: Number(r.units) }));
      return segmentLines(s, plan, period, usage, b.orgPrices);
    });
    const current = b.plans.get(b.currentPlanId)!;
    const total = invoiceTotal(lines);
    return { object: 'upcoming_invoice', plan: { key: current.key, name: current.name }, currency: current.currency, period: { start: period.start.toISOString(), end: period.end.toISOString() }, lines, subtotal: total, total };
  }
}

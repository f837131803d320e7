import type { Prisma } from '#infra/db';
import { billingPeriod, planSegments, proratedIncluded, thresholdsReached, type BillingPeriod } from '#platform/pricing';
import { endpointWants, enqueueMessages, type NewWebhookMessage } from '#platform/webhooks';
import { loadOrgBilling, type OrgBilling } from './billing-context.js';
import type { RecordedUsage } from './ledger.js';

export const USAGE_THRESHOLD_EVENT = 'usage.threshold_reached';

/** The billing period of a `YYYY-MM` id. */
export function periodOfId(id: string): BillingPeriod {
  const [y, m] = id.split('-').map(Number) as [number, number];
  return billingPeriod(Date.UTC(y, m - 1, 1));
}

/** Units included over a whole period: each plan segment's share of its plan's included units. */
export function periodIncluded(b: OrgBilling, period: BillingPeriod): number {
  return planSegments(period, b.currentPlanId, b.changes).reduce((sum, s) => sum + proratedIncluded(b.plans.get(s.planId)?.includedUnits ?? null, s, period), 0);
}

export interface ThresholdPayload {
  type: typeof USAGE_THRESHOLD_EVENT;
  timestamp: string;
  data: { organization_id: string; threshold_percent: number; units: number; included_units: number; period: { start: string; end: string } };
}

/**
 * After a round of usage is recorded (inside the same transaction): for each organization and
 * period that got live usage, the thresholds (50/80/100 % of the period's included units) its
 * live units now reach are inserted into UsageThresholdCrossing; only the inserter of a row
 * (its primary key decides, whatever transactions race) enqueues the `usage.threshold_reached`
 * messages, to the organization's enabled endpoints that want them. Exactly once per period.
 */
export async function reachThresholds(tx: Prisma.TransactionClient, recorded: readonly RecordedUsage[], now = new Date()): Promise<ThresholdPayload[]> {
  const pairs = [...new Set(recorded.filter((r) => r.mode === 'live' && r.units > 0).map((r) => `${r.orgId}|${r.period}`))].map((k) => k.split('|') as [string, string]);
  if (pairs.length === 0) return [];
  const billing = await loadOrgBilling(tx, [...new Set(pairs.map(([o]) => o))]);
  const sent: ThresholdPayload[] = [];
  for (const [orgId, periodId] of pairs) {
    const b = billing.get(orgId);
    if (!b) continue;
    const period = periodOfId(periodId);
    const included = periodIncluded(b, period);
    if (included <= 0) continue;
    const [row] = await tx.$queryRaw<{ units: bigint | null }[]>`
      SELECT sum("units")::bigint AS units FROM "UsageRollup"
      WHERE "orgId" = ${orgId}::uuid AND "mode" = 'live' AND "bucket" >= ${period.start.toISOString()}::timestamptz AT TIME ZONE 'UTC' AND "bucket" < ${period.end.toISOString()}::timestamptz AT TIME ZONE 'UTC'`;
    const units = Number(row?.units ?? 0n);
    const reached = thresholdsReached(units, included);
    if (reached.length === 0) continue;
    const inserted = await tx.$queryRaw<{ percent: number }[]>`
      INSERT INTO "UsageThresholdCrossing" ("orgId", "period", "percent", "units", "includedUnits")
      SELECT ${orgId}::uuid, ${periodId}, p, ${units}::bigint, ${included}::bigint FROM unnest(${reached}::int[]) AS p
      ON CONFLICT DO NOTHING RETURNING "percent"`;
    if (inserted.length === 0) continue;
    const endpoints = (await tx.webhookEndpoint.findMany({ where: { orgId, enabled: true, deletedAt: null }, select: { id: true, url: true, eventTypes: true } })).filter((e) => endpointWants(e.eventTypes, USAGE_THRESHOLD_EVENT));
    const messages: NewWebhookMessage<ThresholdPayload>[] = [];
    for (const { percent } of inserted.sort((a, b) => a.percent - b.percent)) {
      const payload: ThresholdPayload = { type: USAGE_THRESHOLD_EVENT, timestamp: now.toISOString(), data: { organization_id: orgId, threshold_percent: percent, units, included_units: included, period: { start: period.start.toISOString(), end: period.end.toISOString() } } };
      sent.push(payload);
      for (const ep of endpoints) messages.push({ orgId, endpointId: ep.id, url: ep.url, eventType: USAGE_THRESHOLD_EVENT, dedupeKey: `${USAGE_THRESHOLD_EVENT}:${orgId}:${periodId}:${percent}:${ep.id}`, payload });
    }
    if (messages.length) {
      await enqueueMessages(tx, messages, now);
    }
  }
  return sent;
}

// The usage ledger against real Postgres: the `usage` consumer records raw events and rollups
// in one statement, so replays and concurrent consumers never double count; the usage query
// (rollups only) equals the raw events summed, per group and per time-zone day; thresholds fire
// once per period even with consumers racing; the upcoming invoice prorates a plan change.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { uuidv7 } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { UsageConsumer } from '#platform/metering';
import type { LifecycleEvent } from '#platform/predictions';
import { billingPeriod, zonedPeriodStart } from '#platform/pricing';
import { changePlan, parseUsageQuery, UsageService } from '#platform/usage';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertApiKey, insertOrg } from '../support/keys.js';

const PEPPER = 'usage-ledger-pepper-' + 'x'.repeat(32);
let db: TestDatabase;
let service: UsageService;

async function plan(data: { included: number | null; price: string; overage?: 'block' | 'allow'; featurePrices?: Record<string, string> }): Promise<string> {
  const key = `p_${randomBytes(4).toString('hex')}`;
  const id = uuidv7();
  await db.prisma.plan.create({ data: { id, key, name: key, rateLimitPerMinute: 1000, monthlyQuotaUnits: data.included, quotaOverage: data.overage ?? 'allow', unitPrice: data.price } });
  for (const [feature, unitPrice] of Object.entries(data.featurePrices ?? {})) await db.prisma.planFeaturePrice.create({ data: { planId: id, feature, unitPrice } });
  return key;
}

async function tenant(planKey: string): Promise<{ orgId: string; keys: string[] }> {
  const org = await insertOrg(db.prisma, `u-${randomBytes(4).toString('hex')}`, 'Usage Org', planKey);
  const keys = [(await insertApiKey(db.prisma, PEPPER, org.id, { mode: 'live' })).id, (await insertApiKey(db.prisma, PEPPER, org.id, { mode: 'live' })).id, (await insertApiKey(db.prisma, PEPPER, org.id, { mode: 'test' })).id];
  return { orgId: org.id, keys };
}

function succeeded(orgId: string, apiKeyId: string, at: Date, o: { feature?: string; units?: number; mode?: 'live' | 'test'; model?: string } = {}): LifecycleEvent {
  return {
    id: uuidv7(),
    type: 'prediction.succeeded',
    orgId,
    predictionId: uuidv7(),
    occurredAt: at,
    data: { apiKeyId, mode: o.mode ?? 'live', feature: o.feature ?? 'ocr-line', featureVersion: '1', units: o.units ?? 1, unitType: 'image', models: [{ name: o.model ?? 'ppocr-rec', version: '1' }] },
  };
}

async function rawTotals(orgId: string): Promise<{ calls: number; units: number }> {
  const [r] = await db.prisma.$queryRaw<{ calls: bigint; units: bigint | null }[]>`SELECT count(*) AS calls, sum(units)::bigint AS units FROM "UsageEvent" WHERE "orgId" = ${orgId}::uuid`;
  return { calls: Number(r!.calls), units: Number(r!.units ?? 0n) };
}

beforeAll(async () => {
  db = await createTestDatabase('usage_ledger');
  service = new UsageService(db.prisma);
});

afterAll(async () => {
  await db?.drop();
});

describe('recording usage: raw events and rollups, exactly once', () => {
  it('a replayed round and two consumers racing on the same events count each event once', async () => {
    const { orgId, keys } = await tenant(await plan({ included: 1_000_000, price: '0.02' }));
    const base = Date.UTC(2026, 10, 3, 10, 0);
    const events = Array.from({ length: 300 }, (_, i) => succeeded(orgId, keys[i % 3]!, new Date(base + i * 97_000), { units: 1 + (i % 4), mode: i % 3 === 2 ? 'test' : 'live', feature: i % 5 === 0 ? 'image-orientation' : 'ocr-line' }));
    const a = new UsageConsumer(db.prisma);
    const b = new UsageConsumer(db.prisma);
    await a.handleBatch(events.slice(0, 200));
    await a.handleBatch(events.slice(0, 200)); // a redelivered round
    await Promise.all([a.handleBatch(events.slice(100)), b.handleBatch(events.slice(150)), b.handleBatch(events)]);
    const expected = { calls: 300, units: events.reduce((s, e) => s + (e.type === 'prediction.succeeded' ? e.data.units : 0), 0) };
    expect(await rawTotals(orgId)).toEqual(expected);
    const [roll] = await db.prisma.$queryRaw<{ calls: bigint; units: bigint }[]>`SELECT sum(calls)::bigint AS calls, sum(units)::bigint AS units FROM "UsageRollup" WHERE "orgId" = ${orgId}::uuid`;
    expect({ calls: Number(roll!.calls), units: Number(roll!.units) }).toEqual(expected);
    const report = await service.usage(orgId, parseUsageQuery({ from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', group_by: 'feature,key,mode,model' }));
    expect({ calls: report.totals.calls, units: report.totals.units }).toEqual(expected);
    expect(report.data.every((r) => r.model === 'ppocr-rec@1')).toBe(true);
  });
});

describe('GET usage semantics (the service)', () => {
  let orgId: string;
  let keys: string[];
  const events: LifecycleEvent[] = [];

  beforeAll(async () => {
    ({ orgId, keys } = await tenant(await plan({ included: 1_000_000, price: '0.125', featurePrices: { 'image-orientation': '0.5' } })));
    // Around midnight in Kolkata (UTC+5:30) and Kathmandu (UTC+5:45): 18:00-19:30 UTC in 5-minute steps.
    const start = Date.UTC(2026, 10, 10, 18, 0);
    for (let i = 0; i < 19; i++) events.push(succeeded(orgId, keys[i % 2]!, new Date(start + i * 300_000), { units: i + 1, feature: i % 2 ? 'image-orientation' : 'ocr-line' }));
    events.push(succeeded(orgId, keys[2]!, new Date(start), { units: 7, mode: 'test' }));
    await new UsageConsumer(db.prisma).handleBatch(events);
  });

  const unitsOf = (e: LifecycleEvent) => (e.type === 'prediction.succeeded' ? e.data.units : 0);

  it('days in a 30-minute and a 45-minute time zone equal the raw events bucketed in that zone', async () => {
    for (const tz of ['Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York', 'UTC']) {
      const report = await service.usage(orgId, parseUsageQuery({ from: '2026-11-09T00:00:00Z', to: '2026-11-13T00:00:00Z', granularity: 'day', time_zone: tz }));
      const expected = new Map<string, number>();
      for (const e of events) {
        const day = zonedPeriodStart(e.occurredAt, 'day', tz).toISOString();
        expected.set(day, (expected.get(day) ?? 0) + unitsOf(e));
      }
      // Rows clipped to [from, to): the first day may start at `from`.
      const got = new Map(report.data.map((r) => [r.start < '2026-11-09T00:00:00.000Z' ? r.start : r.start, r.units]));
      const want = new Map([...expected].map(([d, u]) => [d < '2026-11-09T00:00:00.000Z' ? '2026-11-09T00:00:00.000Z' : d, u]));
      expect({ tz, rows: Object.fromEntries(got) }).toEqual({ tz, rows: Object.fromEntries(want) });
    }
  });

  it('hours in Kathmandu start at :15 UTC; group_by and filters; amounts at list price, rounded once per row, test usage free', async () => {
    const hours = await service.usage(orgId, parseUsageQuery({ from: '2026-11-10T18:00:00Z', to: '2026-11-10T20:00:00Z', granularity: 'hour', time_zone: 'Asia/Kathmandu' }));
    expect(hours.data.map((r) => r.start)).toEqual(['2026-11-10T18:00:00.000Z', '2026-11-10T18:15:00.000Z', '2026-11-10T19:15:00.000Z']);
    expect(hours.totals.units).toBe(events.reduce((s, e) => s + unitsOf(e), 0));

    const byFeature = await service.usage(orgId, parseUsageQuery({ from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', granularity: 'month', group_by: 'feature,mode' }));
    const live = (f: string) => events.filter((e) => e.type === 'prediction.succeeded' && e.data.feature === f && e.data.mode === 'live').reduce((s, e) => s + unitsOf(e), 0);
    const ocr = live('ocr-line'); // 1+3+…+19 = 100 units × 0.125 = 12.5 → 12 (half-even)
    const orient = live('image-orientation'); // 2+4+…+18 = 90 × 0.5 = 45
    expect(byFeature.data).toEqual([
      { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z', feature: 'image-orientation', mode: 'live', calls: 9, units: orient, amount: 45 },
      { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z', feature: 'ocr-line', mode: 'live', calls: 10, units: ocr, amount: 12 },
      { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z', feature: 'ocr-line', mode: 'test', calls: 1, units: 7, amount: 0 },
    ]);
    expect(byFeature.totals).toEqual({ calls: 20, units: ocr + orient + 7, amount: 57 });

    const oneKey = await service.usage(orgId, parseUsageQuery({ from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', granularity: 'month', key: keys[0]!, group_by: 'key' }));
    expect(oneKey.data).toEqual([expect.objectContaining({ api_key_id: keys[0], calls: 10, units: ocr })]);
  });

  it('refuses bad parameters with 422 validation_failed naming each', () => {
    const bad = (q: Record<string, unknown>) => {
      try {
        parseUsageQuery(q);
      } catch (e) {
        expect(e).toBeInstanceOf(ProblemError);
        const p = e as ProblemError;
        expect(p.code).toBe('validation_failed');
        return (p.extensions['errors'] as { path: string }[]).map((x) => x.path);
      }
      throw new Error('accepted');
    };
    expect(bad({ granularity: 'week' })).toEqual(['/granularity']);
    expect(bad({ time_zone: 'Mars/Olympus' })).toEqual(['/time_zone']);
    expect(bad({ group_by: 'feature,colour' })).toEqual(['/group_by']);
    // A time inside a 15-minute bucket is not an error: the range widens to whole buckets.
    const widened = parseUsageQuery({ from: '2026-11-10T00:07:00Z', to: '2026-11-11T00:01:00Z' });
    expect([widened.from.toISOString(), widened.to.toISOString()]).toEqual(['2026-11-10T00:00:00.000Z', '2026-11-11T00:15:00.000Z']);
    expect(bad({ from: '2026-11-10T00:00:00Z', to: '2026-11-09T00:00:00Z' })).toEqual(['/to']);
    expect(bad({ from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z', granularity: 'hour' })).toEqual(['/to']);
    expect(bad({ key: 'nope', mode: 'prod' }).sort()).toEqual(['/key', '/mode']);
  });
});

describe('usage thresholds: once per period, whatever races', () => {
  it('50/80/100 % each enqueue one webhook per endpoint, even from concurrent consumers and replays', async () => {
    const { orgId, keys } = await tenant(await plan({ included: 100, price: '0', overage: 'block' }));
    const ep = uuidv7();
    await db.prisma.webhookEndpoint.create({ data: { id: ep, orgId, url: 'https://hooks.example.test/billing', eventTypes: ['usage.threshold_reached'] } });
    const other = uuidv7();
    await db.prisma.webhookEndpoint.create({ data: { id: other, orgId, url: 'https://hooks.example.test/predictions', eventTypes: ['prediction.succeeded'] } });
    const now = Date.now();
    const events = Array.from({ length: 60 }, (_, i) => succeeded(orgId, keys[0]!, new Date(now - 60_000 + i * 10), { units: 2 }));
    const consumers = [new UsageConsumer(db.prisma), new UsageConsumer(db.prisma), new UsageConsumer(db.prisma)];
    // Three consumers race over overlapping slices (the last ones cross 50, 80 and 100 % together).
    await Promise.all(consumers.map((c, i) => c.handleBatch(events.slice(i * 10, 30 + i * 15))));
    await Promise.all(consumers.map((c) => c.handleBatch(events)));
    const messages = await db.prisma.webhookMessage.findMany({ where: { orgId }, orderBy: { createdAt: 'asc' } });
    expect(messages.every((m) => m.endpointId === ep && m.eventType === 'usage.threshold_reached')).toBe(true);
    const payloads = messages.map((m) => (m.payload as { data: { threshold_percent: number; included_units: number; period: { start: string } } }).data);
    expect(payloads.map((p) => p.threshold_percent).sort((x, y) => x - y)).toEqual([50, 80, 100]);
    const period = billingPeriod(now - 60_000);
    expect(payloads.every((p) => p.included_units === 100 && p.period.start === period.start.toISOString())).toBe(true);
    expect(await db.prisma.usageThresholdCrossing.count({ where: { orgId } })).toBe(3);
  });
});

describe('upcoming invoice and a plan change mid-period', () => {
  it('prices each stretch with its plan and prorated included units; recorded usage is kept', async () => {
    const freeKey = await plan({ included: 1000, price: '0', overage: 'block' });
    const proKey = await plan({ included: 100_000, price: '0.02', featurePrices: { 'image-orientation': '0.03' } });
    const { orgId, keys } = await tenant(freeKey);
    const now = new Date();
    const period = billingPeriod(now);
    const before = Array.from({ length: 5 }, (_, i) => succeeded(orgId, keys[0]!, new Date(period.start.getTime() + 60_000 + i), { units: 100 }));
    await new UsageConsumer(db.prisma).handleBatch(before);
    const change = await db.prisma.$transaction((tx) => changePlan(tx, orgId, proKey, now));
    expect(change).not.toBeNull();
    expect(change!.effectiveAt.getTime() % 900_000).toBe(0);
    // Unknown plan: 422; the same plan again: no change.
    await expect(db.prisma.$transaction((tx) => changePlan(tx, orgId, 'no-such-plan', now))).rejects.toMatchObject({ code: 'validation_failed' });
    expect(await db.prisma.$transaction((tx) => changePlan(tx, orgId, proKey, now))).toBeNull();
    const after = succeeded(orgId, keys[1]!, new Date(Math.min(change!.effectiveAt.getTime() + 1, period.end.getTime() - 1)), { units: 250_000, feature: 'image-orientation' });
    await new UsageConsumer(db.prisma).handleBatch([after]);

    const inv = await service.upcoming(orgId, now);
    const splitMs = change!.effectiveAt.getTime();
    const whole = period.end.getTime() - period.start.getTime();
    const freeIncluded = Math.round((1000 * (splitMs - period.start.getTime())) / whole);
    const proIncluded = 100_000 - Math.round((100_000 * (splitMs - period.start.getTime())) / whole);
    expect(inv.plan.key).toBe(proKey);
    expect(inv.lines).toHaveLength(2);
    const [first, second] = inv.lines;
    expect(first).toMatchObject({ plan: freeKey, feature: 'ocr-line', units: 500, included: Math.min(500, freeIncluded), unit_price: '0', amount: 0 });
    expect(second).toMatchObject({ plan: proKey, feature: 'image-orientation', units: 250_000, unit_price: '0.03' });
    // Proration within ±1 unit of the float estimate (the code rounds half-even in BigInt).
    expect(Math.abs(second!.included - proIncluded)).toBeLessThanOrEqual(1);
    expect(second!.amount).toBe(Math.round((250_000 - second!.included) * 0.03));
    expect(inv.total).toBe(second!.amount);
    expect(inv.lines.reduce((s, l) => s + l.units, 0)).toBe((await rawTotals(orgId)).units);
  });
});

// Usage events ingested per second into the ledger AND its rollups (the `usage` lifecycle
// consumer's round: raw rows + 15-minute rollups in one statement, then the threshold check, in
// one transaction), against a baseline in the same run: the raw rows alone (what the consumer
// did before rollups existed). Own Postgres schema; events spread over one month, 10
// organizations × 5 keys × 2 features × 2 models, live and test; rounds of 2,000 (the usage
// consumer's batchSize). Then the query side: a busy organization's month by day from the rollups
// (GET /usage) against the same answer computed from its raw events.
//
//   npm run bench:usage [-- --events 50000 --batch 2000 --query-events 1000000]
//   (or NODE_ENV=development node dist/bench/usage-ingest.js ...)
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { uuidv7 } from '#infra/db';
import { UsageConsumer } from '#platform/metering';
import type { LifecycleEvent } from '#platform/predictions';
import { parseUsageQuery, UsageService } from '#platform/usage';
import { createTestDatabase } from '../test/support/db.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' }, batch: { type: 'string', default: '2000' }, 'query-events': { type: 'string', default: '1000000' } } });
const EVENTS = Number(values.events);
const QUERY_EVENTS = Number(values['query-events']);
const BATCH = Number(values.batch);
const MONTH_START = Date.UTC(2026, 10, 1);
const MONTH_MS = 30 * 86_400_000;

async function main(): Promise<void> {
  const db = await createTestDatabase('bench_usage');
  try {
    const planId = uuidv7();
    await db.prisma.plan.create({ data: { id: planId, key: 'bench', name: 'Bench', rateLimitPerMinute: 1000, monthlyQuotaUnits: 1_000_000_000, unitPrice: '0.02' } });
    const orgs: { id: string; keys: string[] }[] = [];
    for (let o = 0; o < 10; o++) {
      const id = uuidv7();
      await db.prisma.organization.create({ data: { id, slug: `bench-${o}`, name: `Bench ${o}`, planId } });
      orgs.push({ id, keys: Array.from({ length: 5 }, () => uuidv7()) });
    }
    const make = (n: number): LifecycleEvent[] =>
      Array.from({ length: n }, (_, i) => {
        const org = orgs[i % orgs.length]!;
        return {
          id: uuidv7(),
          type: 'prediction.succeeded',
          orgId: org.id,
          predictionId: uuidv7(),
          occurredAt: new Date(MONTH_START + Math.floor(Math.random() * MONTH_MS)),
          data: { apiKeyId: org.keys[i % 5]!, mode: i % 10 === 0 ? 'test' : 'live', feature: i % 3 ? 'ocr-line' : 'image-orientation', featureVersion: '1', units: 1 + (i % 3), unitType: 'image', models: [{ name: i % 2 ? 'ppocr-rec' : 'ppocr-det', version: '1' }] },
        };
      });

    // Baseline: the raw rows only, same batches (createMany … skipDuplicates, as before rollups).
    const baselineEvents = make(EVENTS);
    const t0 = performance.now();
    for (let i = 0; i < baselineEvents.length; i += BATCH) {
      const data = baselineEvents.slice(i, i + BATCH).map((e) => {
        const d = e.data as { apiKeyId: string; mode: 'live' | 'test'; feature: string; units: number; unitType: string };
        return { id: e.predictionId, orgId: e.orgId, apiKeyId: d.apiKeyId, feature: d.feature, units: d.units, unitType: d.unitType, mode: d.mode, occurredAt: e.occurredAt };
      });
      await db.prisma.usageEvent.createMany({ data, skipDuplicates: true });
    }
    const baselineRate = EVENTS / ((performance.now() - t0) / 1000);
    await db.prisma.usageEvent.deleteMany({});

    // The ledger: raw + rollups + thresholds, one transaction per round, one runner (as the outbox runs it).
    const consumer = new UsageConsumer(db.prisma);
    const events = make(EVENTS);
    const t1 = performance.now();
    for (let i = 0; i < events.length; i += BATCH) await consumer.handleBatch(events.slice(i, i + BATCH));
    const ledgerRate = EVENTS / ((performance.now() - t1) / 1000);
    // A replay of everything changes nothing (checked, not timed).
    for (let i = 0; i < events.length; i += 5_000) await consumer.handleBatch(events.slice(i, i + 5_000));
    const [raw] = await db.prisma.$queryRaw<{ n: bigint; u: bigint }[]>`SELECT count(*) AS n, sum(units)::bigint AS u FROM "UsageEvent"`;
    const [roll] = await db.prisma.$queryRaw<{ n: bigint; u: bigint; rows: bigint }[]>`SELECT sum(calls)::bigint AS n, sum(units)::bigint AS u, count(*) AS rows FROM "UsageRollup"`;
    if (raw!.n !== BigInt(EVENTS) || raw!.n !== roll!.n || raw!.u !== roll!.u) throw new Error(`ledger and rollups disagree: raw ${raw!.n}/${raw!.u}, rollups ${roll!.n}/${roll!.u}`);

    // The query side: one busy organization (one key, one feature, one model: dense buckets) with
    // QUERY_EVENTS events in the month, written in the database (generate_series) with their rollups
    // computed as the migration's backfill does; its month by day, from the rollups vs the raw scan.
    const service = new UsageService(db.prisma);
    const busy = uuidv7();
    await db.prisma.organization.create({ data: { id: busy, slug: 'bench-busy', name: 'Busy', planId } });
    const busyKey = uuidv7();
    await db.prisma.$executeRaw`
      INSERT INTO "UsageEvent" ("id", "orgId", "apiKeyId", "feature", "units", "unitType", "mode", "model", "occurredAt")
      SELECT gen_random_uuid(), ${busy}::uuid, ${busyKey}::uuid, 'ocr-line', 1, 'image', 'live', 'ppocr-rec@1', timestamp '2026-11-01' + (i * (${MONTH_MS}::float8 / ${QUERY_EVENTS})) * interval '1 millisecond'
      FROM generate_series(0, ${QUERY_EVENTS - 1}) AS i`;
    await db.prisma.$executeRaw`
      INSERT INTO "UsageRollup" ("orgId", "bucket", "feature", "apiKeyId", "model", "mode", "unitType", "calls", "units")
      SELECT "orgId", date_trunc('hour', "occurredAt") + floor(extract(minute FROM "occurredAt") / 15) * interval '15 minutes', "feature", "apiKeyId", "model", "mode", min("unitType"), count(*), sum("units")
      FROM "UsageEvent" WHERE "orgId" = ${busy}::uuid GROUP BY 1, 2, 3, 4, 5, 6`;
    await db.prisma.$executeRawUnsafe('ANALYZE "UsageEvent"; ');
    await db.prisma.$executeRawUnsafe('ANALYZE "UsageRollup"');
    const q = parseUsageQuery({ from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', granularity: 'day', group_by: 'feature', time_zone: 'Europe/Paris' });
    const median = async (f: () => Promise<unknown>) => {
      const ts: number[] = [];
      for (let i = 0; i < 5; i++) {
        const s = performance.now();
        await f();
        ts.push(performance.now() - s);
      }
      return ts.sort((a, b) => a - b)[2]!;
    };
    const rollupMs = await median(() => service.usage(busy, q));
    const rawMs = await median(
      () => db.prisma.$queryRaw`SELECT date_trunc('day', ("occurredAt" AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Paris') AS d, feature, count(*), sum(units) FROM "UsageEvent" WHERE "orgId" = ${busy}::uuid AND "occurredAt" >= '2026-11-01' AND "occurredAt" < '2026-12-01' GROUP BY 1, 2`,
    );
    const report = await service.usage(busy, q);
    if (report.totals.calls !== QUERY_EVENTS) throw new Error(`rollup query saw ${report.totals.calls} calls, expected ${QUERY_EVENTS}`);
    const orgEvents = QUERY_EVENTS;

    console.log(`usage ingest, ${EVENTS} events in rounds of ${BATCH} (one runner, one transaction per round)`);
    console.log(`  baseline, raw rows only:            ${Math.round(baselineRate).toLocaleString('en-US')} events/s`);
    console.log(`  ledger + rollups + thresholds:      ${Math.round(ledgerRate).toLocaleString('en-US')} events/s  (${(ledgerRate / baselineRate).toFixed(2)}× the baseline; target ≥ 10,000/s)`);
    console.log(`  exactness: raw ${raw!.n} events / ${raw!.u} units = rollups ${roll!.n} / ${roll!.u} (after a full replay); ${roll!.rows} rollup rows`);
    console.log(`query: one busy organization's month by day in Europe/Paris (${orgEvents.toLocaleString('en-US')} events, 2,880 rollup rows behind it), median of 5`);
    console.log(`  from the rollups (GET /usage):     ${rollupMs.toFixed(1)} ms`);
    console.log(`  from the raw events (scan):        ${rawMs.toFixed(1)} ms  (${(rawMs / rollupMs).toFixed(1)}× the rollups; the scan grows with the events, the rollups only with buckets × dimensions)`);
  } finally {
    await db.drop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

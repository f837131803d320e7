// Usage events ingested per second into the ledger AND its rollups (the `usage` lifecycle
// consumer's round: raw rows + 15-minute rollups in one statement, then the threshold check, in
// one transaction), against a baseline in the same run: the raw rows alone (what the consumer
// did before rollups existed). Own Postgres schema; events spread over one month, 10
// organizations × 5 keys × 2 features × 2 models, live and test. Then the query side: one
// organization's month by day from the rollups (GET /usage) against a sum over its raw events.
//
//   npm run bench:usage [-- --events 100000 --batch 200]
//   (or NODE_ENV=development node dist/bench/usage-ingest.js ...)
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { uuidv7 } from '#infra/db';
import { UsageConsumer } from '#platform/metering';
import type { LifecycleEvent } from '#platform/predictions';
import { parseUsageQuery, UsageService } from '#platform/usage';
import { createTestDatabase } from '../test/support/db.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' }, batch: { type: 'string', default: '200' } } });
const EVENTS = Number(values.events);
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

    // The query side, one organization's month by day and feature (median of 5).
    const service = new UsageService(db.prisma);
    const org = orgs[0]!.id;
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
    const rollupMs = await median(() => service.usage(org, q));
    const rawMs = await median(
      () => db.prisma.$queryRaw`SELECT date_trunc('day', ("occurredAt" AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Paris') AS d, feature, count(*), sum(units) FROM "UsageEvent" WHERE "orgId" = ${org}::uuid AND "occurredAt" >= '2026-11-01' AND "occurredAt" < '2026-12-01' GROUP BY 1, 2`,
    );
    const orgEvents = EVENTS / orgs.length;

    console.log(`usage ingest, ${EVENTS} events in rounds of ${BATCH} (one runner, one transaction per round)`);
    console.log(`  baseline, raw rows only:            ${Math.round(baselineRate).toLocaleString('en-US')} events/s`);
    console.log(`  ledger + rollups + thresholds:      ${Math.round(ledgerRate).toLocaleString('en-US')} events/s  (${(ledgerRate / baselineRate).toFixed(2)}× the baseline; target ≥ 10,000/s)`);
    console.log(`  exactness: raw ${raw!.n} events / ${raw!.u} units = rollups ${roll!.n} / ${roll!.u} (after a full replay); ${roll!.rows} rollup rows`);
    console.log(`query: one organization's month by day and feature (${orgEvents.toLocaleString('en-US')} events behind it), median of 5`);
    console.log(`  from the rollups (GET /usage):     ${rollupMs.toFixed(1)} ms`);
    console.log(`  from the raw events (scan):        ${rawMs.toFixed(1)} ms  (${(rawMs / rollupMs).toFixed(1)}× the rollups; grows with the events, the rollups with buckets × dimensions)`);
  } finally {
    await db.drop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

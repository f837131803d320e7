import { Prisma, type PrismaClient } from '#infra/db';
import type { KeyMode } from '#infra/queue';

/** One billable success as the ledger records it (its id is the prediction id). */
export interface LedgerEntry {
  id: string;
  orgId: string;
  apiKeyId: string;
  feature: string;
  units: number;
  unitType: string;
  mode: KeyMode;
  /** "name@version" of the serving models joined by "+" ("" when none). */
  model: string;
  occurredAt: Date;
}

/** What a round of entries added (only the ones not recorded before), per organization, feature, mode and period. */
export interface RecordedUsage {
  orgId: string;
  feature: string;
  mode: KeyMode;
  calls: number;
  units: number;
  /** Their billing period (`YYYY-MM`, UTC). */
  period: string;
}

type Db = PrismaClient | Prisma.TransactionClient;

/** The `model` dimension of a prediction's models. */
export function modelDimension(models: readonly { name: string; version: string }[] | undefined): string {
  return (models ?? []).map((m) => `${m.name}@${m.version}`).join('+');
}

/**
 * Records usage entries and their rollups in ONE statement: the raw rows are inserted with
 * ON CONFLICT (id) DO NOTHING and only the rows actually inserted (RETURNING) are added to the
 * 15-minute rollups, so a replayed entry changes neither; the statement is atomic, so the rollups
 * always sum to the raw events. Rollup rows are upserted in key order (no deadlock between
 * concurrent rounds). Returns what was newly recorded.
 */
export async function recordUsage(db: Db, entries: readonly LedgerEntry[]): Promise<RecordedUsage[]> {
  const unique = [...new Map(entries.map((e) => [e.id, e])).values()];
  if (unique.length === 0) return [];
  const col = <T>(f: (e: LedgerEntry) => T): T[] => unique.map(f);
  const rows = await db.$queryRaw<{ orgId: string; feature: string; mode: KeyMode; calls: number; units: bigint; period: string }[]>`
    WITH input AS (
      SELECT * FROM unnest(${col((e) => e.id)}::uuid[], ${col((e) => e.orgId)}::uuid[], ${col((e) => e.apiKeyId)}::uuid[], ${col((e) => e.feature)}::text[],
                           ${col((e) => e.units)}::int[], ${col((e) => e.unitType)}::text[], ${col((e) => e.mode)}::text[], ${col((e) => e.model)}::text[],
                           ${col((e) => e.occurredAt.toISOString())}::text[])
        AS t(id, "orgId", "apiKeyId", feature, units, "unitType", mode, model, at)
    ), ins AS (
      INSERT INTO "UsageEvent" ("id", "orgId", "apiKeyId", "feature", "units", "unitType", "mode", "model", "occurredAt")
      SELECT id, "orgId", "apiKeyId", feature, units, "unitType", mode::"KeyMode", model, (at::timestamptz AT TIME ZONE 'UTC') FROM input
      ON CONFLICT ("id") DO NOTHING
      RETURNING "orgId", "apiKeyId", "feature", "units", "unitType", "mode", "model", "occurredAt"
    ), rolled AS (
      INSERT INTO "UsageRollup" ("orgId", "bucket", "feature", "apiKeyId", "model", "mode", "unitType", "calls", "units")
      SELECT "orgId", date_trunc('hour', "occurredAt") + floor(extract(minute FROM "occurredAt") / 15) * interval '15 minutes', "feature", "apiKeyId", "model", "mode", min("unitType"), count(*), sum("units")
      FROM ins GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
      ON CONFLICT ("orgId", "bucket", "feature", "apiKeyId", "model", "mode")
      DO UPDATE SET "calls" = "UsageRollup"."calls" + EXCLUDED."calls", "units" = "UsageRollup"."units" + EXCLUDED."units"
      RETURNING 1
    )
    SELECT "orgId"::text AS "orgId", "feature", "mode"::text AS "mode", to_char("occurredAt", 'YYYY-MM') AS period, count(*)::int AS calls, sum("units")::bigint AS units
    FROM ins GROUP BY 1, 2, 3, 4`;
  return rows.map((r) => ({ ...r, units: Number(r.units) }));
}

/** Deletes raw usage events older than `before` in bounded batches (the rollups stay): returns how many. */
export async function pruneUsageEvents(db: PrismaClient, before: Date, batch = 10_000): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.$executeRaw`DELETE FROM "UsageEvent" WHERE "id" IN (SELECT "id" FROM "UsageEvent" WHERE "occurredAt" < ${before.toISOString()}::timestamptz AT TIME ZONE 'UTC' LIMIT ${batch})`;
    total += n;
    if (n < batch) return total;
  }
}

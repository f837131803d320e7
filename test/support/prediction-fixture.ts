// Many predictions written by one SQL statement (INSERT ... SELECT ... FROM generate_series),
// for the index test and the list benchmark. Rows look like the lifecycle writes them: every
// NOT NULL column filled, UUIDv7 ids built in SQL from the row's creation time (so they sort
// as createdAt does, as the app's ids do), payloads purged past the retention cut-off, a few
// unfinished predictions among the newest.
import type { PrismaClient } from '#infra/db';

export interface PredictionFixture {
  orgId: string;
  liveKeyId: string;
  testKeyId: string;
  /** Predictions to insert for this organization. */
  rows: number;
  /** One prediction in `liveEvery` is live (the rest test); 1 = all live. */
  liveEvery: number;
  /** Creation times are spread evenly over [now - spanDays, now). */
  spanDays: number;
  /** Finished predictions older than this have their payloads purged (purgedAt set, output null, no input row). */
  retentionDays: number;
  /** The newest `unfinished` predictions are starting/processing (the recovery loop's work). */
  unfinished: number;
  now: Date;
}

const DAY_MS = 86_400_000;

/**
 * Inserts the organization's predictions and the inputs of those not purged. Returns the
 * number of live predictions inserted. Ids: 48-bit ms timestamp, version 7, a 12-bit counter,
 * the variant and 60 bits of md5 (of the row number and the org id), like uuidv7().
 */
export async function insertPredictions(prisma: PrismaClient, f: PredictionFixture): Promise<{ live: number }> {
  const endMs = f.now.getTime();
  const stepMs = Math.floor((f.spanDays * DAY_MS) / f.rows);
  if (!(stepMs >= 1)) throw new Error('insertPredictions: spanDays too short for that many rows (ids must stay time-ordered)');
  const cutoffMs = endMs - f.retentionDays * DAY_MS;
  // $1 org, $2 live key, $3 test key, $4 rows, $5 end ms, $6 step ms, $7 liveEvery, $8 unfinished, $9 retention cut-off ms
  const sql = `
    INSERT INTO "Prediction" ("id", "orgId", "apiKeyId", "mode", "feature", "featureVersion", "status", "pool", "priority", "spec",
      "output", "error", "units", "metrics", "models", "webhook", "webhookEventsFilter",
      "createdAt", "startedAt", "completedAt", "deadlineAt", "purgedAt")
    SELECT
      (lpad(to_hex(s.ms), 12, '0') || '7' || lpad(to_hex(s.i % 4096), 3, '0') || substr('89ab', 1 + (s.i % 4)::int, 1) || substr(s.h, 1, 15))::uuid,
      $1::uuid,
      CASE WHEN s.live THEN $2::uuid ELSE $3::uuid END,
      (CASE WHEN s.live THEN 'live' ELSE 'test' END)::"KeyMode",
      CASE WHEN s.i % 3 = 0 THEN 'ocr' ELSE 'image-classification' END,
      '1',
      s.status::"PredictionStatus",
      CASE WHEN s.i % 3 = 0 THEN 'ocr' ELSE 'vision' END,
      CASE WHEN s.i % 7 = 0 THEN 5 ELSE 10 END,
      '{"kind":"feature"}'::jsonb,
      CASE WHEN s.status = 'succeeded' AND NOT s.purged THEN jsonb_build_object('label', 'tabby cat', 'score', 0.91, 'n', s.i) END,
      CASE WHEN s.status = 'failed' THEN '{"code":"invalid_input","message":"The image could not be decoded."}'::jsonb END,
      CASE WHEN s.status = 'succeeded' THEN 1 END,
      CASE WHEN s.status IN ('succeeded', 'failed') THEN '{"queueTimeMs":3,"predictTimeMs":14,"batchSize":4}'::jsonb END,
      '[{"name":"mobilenet-v2","version":"1"}]'::jsonb,
      CASE WHEN s.i % 50 = 0 THEN 'https://hooks.example.com/stratum' END,
      CASE WHEN s.i % 50 = 0 THEN ARRAY['completed'] ELSE ARRAY[]::text[] END,
      s.created,
      CASE WHEN s.status <> 'starting' THEN s.created + interval '20 milliseconds' END,
      CASE WHEN s.status IN ('succeeded', 'failed', 'canceled') THEN s.created + (40 + s.i % 400) * interval '1 millisecond' END,
      s.created + interval '5 minutes',
      CASE WHEN s.purged THEN s.created + interval '1 day' END
    FROM (
      SELECT b.*, b.status IN ('succeeded', 'failed', 'canceled') AND b.ms < $9::bigint AS purged
      FROM (
        SELECT a.*,
          timestamp '1970-01-01' + a.ms * interval '1 millisecond' AS created,
          CASE
            WHEN a.i > $4::int - $8::int THEN (CASE WHEN a.i % 2 = 0 THEN 'starting' ELSE 'processing' END)
            WHEN a.i % 50 = 7 THEN 'failed'
            WHEN a.i % 100 = 13 THEN 'canceled'
            ELSE 'succeeded'
          END AS status
        FROM (
          SELECT g.i, $5::bigint - ($4::int - g.i + 1)::bigint * $6::bigint AS ms, g.i % $7::int = 0 AS live, md5(g.i::text || $1) AS h
          FROM generate_series(1, $4::int) AS g(i)
        ) a
      ) b
    ) s`;
  await prisma.$executeRawUnsafe(sql, f.orgId, f.liveKeyId, f.testKeyId, f.rows, endMs, stepMs, f.liveEvery, f.unfinished, cutoffMs);
  await prisma.$executeRawUnsafe(
    `INSERT INTO "PredictionInput" ("predictionId", "orgId", "input")
     SELECT "id", "orgId", jsonb_build_object('image', 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk', 'topK', 5)
     FROM "Prediction" WHERE "orgId" = $1::uuid AND "purgedAt" IS NULL`,
    f.orgId,
  );
  return { live: Math.floor(f.rows / f.liveEvery) };
}

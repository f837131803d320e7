// The lifecycle's transitions as single SQL statements: the guarded status change and the
// event append in one statement (one round trip, atomic, no interactive transaction). The
// outbox append lock (see outbox.ts) is taken before any row lock — in the UPDATE's WHERE, an
// uncorrelated sub-select that Postgres evaluates before it locks the row — so transitions on
// the same prediction never deadlock, and seq order is commit order.
import { Prisma, type PrismaClient } from '#infra/db';
import type { KeyMode } from '#infra/queue';
import type { LifecycleEventType } from './lifecycle-events.js';
import { OUTBOX_APPEND_LOCK_SQL } from './outbox.js';
import type { PredictionRecord } from './prediction-view.js';
import { PREDICTION_SELECT } from './predictions.repository.js';

/** A prediction row as the transitions return it: the public record plus what its job is made of. */
export interface TransitionRow extends PredictionRecord {
  pool: string;
  priority: number;
  spec: unknown;
}

/** The record's columns (the repository's one list) and the job's. */
const RETURNING = Prisma.raw([...Object.keys(PREDICTION_SELECT), 'pool', 'priority', 'spec'].map((c) => `"${c}"`).join(', '));
const LOCK = Prisma.raw(OUTBOX_APPEND_LOCK_SQL);
const UNFINISHED = Prisma.raw(`('starting', 'processing')`);

/** Timestamps are stored as UTC in `timestamp(3)` columns (Prisma's convention). */
const utc = (d: Date): Prisma.Sql => Prisma.sql`(${d.toISOString()}::timestamptz AT TIME ZONE 'UTC')`;
const jsonb = (v: unknown): Prisma.Sql => Prisma.sql`${JSON.stringify(v ?? null)}::jsonb`;

/** The event insert, reading its subject from the CTE `p` (the changed row). */
function appendFrom(eventId: string, type: LifecycleEventType, extra: Record<string, unknown>): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO "PredictionEvent" ("id", "orgId", "predictionId", "type", "data")
    SELECT ${eventId}::uuid, p."orgId", p."id", ${type},
           jsonb_build_object('apiKeyId', p."apiKeyId", 'mode', p."mode", 'feature', p."feature", 'featureVersion', p."featureVersion") || ${jsonb(extra)}
    FROM p`;
}

export interface NewPredictionRow {
  id: string;
  orgId: string;
  apiKeyId: string;
  mode: KeyMode;
  feature: string;
  featureVersion: string;
  pool: string;
  priority: number;
  spec: unknown;
  models: unknown;
  input: unknown;
  cancelAt: Date | null;
  webhook: string | null;
  webhookEventsFilter: string[];
  createdAt: Date;
  deadlineAt: Date;
}

/** Inserts the prediction, its input and `prediction.created`. */
export async function insertPrediction(db: PrismaClient, n: NewPredictionRow, eventId: string): Promise<TransitionRow | null> {
  const rows = await db.$queryRaw<TransitionRow[]>`
    WITH lock AS (${LOCK}),
    p AS (
      INSERT INTO "Prediction" ("id", "orgId", "apiKeyId", "mode", "feature", "featureVersion", "status", "pool", "priority", "spec", "models",
                                "cancelAt", "webhook", "webhookEventsFilter", "createdAt", "deadlineAt")
      SELECT ${n.id}::uuid, ${n.orgId}::uuid, ${n.apiKeyId}::uuid, ${n.mode}::"KeyMode", ${n.feature}, ${n.featureVersion}, 'starting', ${n.pool}, ${n.priority}::int,
             ${jsonb(n.spec)}, ${jsonb(n.models)}, ${n.cancelAt === null ? null : utc(n.cancelAt)}, ${n.webhook}, ${n.webhookEventsFilter}::text[], ${utc(n.createdAt)}, ${utc(n.deadlineAt)}
      FROM lock
      RETURNING ${RETURNING}
    ),
    i AS (INSERT INTO "PredictionInput" ("predictionId", "orgId", "input") SELECT p."id", p."orgId", ${jsonb(n.input)} FROM p RETURNING 1),
    e AS (${appendFrom(eventId, 'prediction.created', { pool: n.pool })} RETURNING 1)
    SELECT ${RETURNING} FROM p`;
  return rows[0] ?? null;
}

/** Guarded status change + its event; the changed row, or null when the guard refused it. */
async function transition(db: PrismaClient, where: Prisma.Sql, set: Prisma.Sql, eventId: string, type: LifecycleEventType, extra: Record<string, unknown>, select: Prisma.Sql = RETURNING): Promise<(TransitionRow & { input?: unknown }) | null> {
  const rows = await db.$queryRaw<(TransitionRow & { input?: unknown })[]>`
    WITH lock AS (${LOCK}),
    p AS (
      UPDATE "Prediction" SET ${set}
      WHERE ${where} AND EXISTS (SELECT 1 FROM lock)
      RETURNING ${RETURNING}
    ),
    e AS (${appendFrom(eventId, type, extra)} RETURNING 1)
    SELECT ${select} FROM p`;
  return rows[0] ?? null;
}

const byId = (id: string, orgId: string): Prisma.Sql => Prisma.sql`"id" = ${id}::uuid AND "orgId" = ${orgId}::uuid`;

/** starting|processing → processing with `prediction.started`; returns the input too. */
export function startPrediction(db: PrismaClient, id: string, orgId: string, attempt: number, at: Date, eventId: string) {
  return transition(
    db,
    Prisma.sql`${byId(id, orgId)} AND "status" IN ${UNFINISHED}`,
    Prisma.sql`"status" = 'processing', "startedAt" = ${utc(at)}`,
    eventId,
    'prediction.started',
    { attempt },
    Prisma.sql`${RETURNING}, (SELECT i."input" FROM "PredictionInput" i WHERE i."predictionId" = p."id") AS "input"`,
  );
}

export function succeedPrediction(db: PrismaClient, id: string, orgId: string, r: { output: unknown; metrics: unknown; models: { name: string; version: string; sha256?: string }[]; units: number; unitType: string }, at: Date, eventId: string) {
  return transition(
    db,
    Prisma.sql`${byId(id, orgId)} AND "status" = 'processing'`,
    Prisma.sql`"status" = 'succeeded', "output" = ${jsonb(r.output)}, "metrics" = ${jsonb(r.metrics)}, "models" = ${jsonb(r.models)}, "units" = ${r.units}::int, "completedAt" = ${utc(at)}, "error" = NULL`,
    eventId,
    'prediction.succeeded',
    { units: r.units, unitType: r.unitType, models: r.models.map((m) => ({ name: m.name, version: m.version, ...(m.sha256 !== undefined ? { sha256: m.sha256 } : {}) })) },
  );
}

export function failPrediction(db: PrismaClient, id: string, orgId: string, error: { code: string; message: string }, metrics: unknown, at: Date, eventId: string) {
  const setMetrics = metrics === null ? Prisma.empty : Prisma.sql`, "metrics" = ${jsonb(metrics)}`;
  return transition(
    db,
    Prisma.sql`${byId(id, orgId)} AND "status" IN ${UNFINISHED}`,
    Prisma.sql`"status" = 'failed', "error" = ${jsonb(error)}, "completedAt" = ${utc(at)}${setMetrics}`,
    eventId,
    'prediction.failed',
    { error },
  );
}

export function cancelPrediction(db: PrismaClient, id: string, orgId: string, mode: KeyMode, at: Date, eventId: string) {
  return transition(
    db,
    Prisma.sql`${byId(id, orgId)} AND "mode" = ${mode}::"KeyMode" AND "status" IN ${UNFINISHED}`,
    Prisma.sql`"status" = 'canceled', "completedAt" = ${utc(at)}`,
    eventId,
    'prediction.canceled',
    {},
  );
}

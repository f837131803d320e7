import type { PrismaClient } from '#infra/db';
import type { LifecycleConsumer, LifecycleEvent, OutboxPosition } from './lifecycle-events.js';

interface EventRow {
  id: string;
  seq: bigint;
  orgId: string;
  predictionId: string;
  type: string;
  data: unknown;
  createdAt: Date;
}

/**
 * Appends happen under this transaction-level advisory lock, as the last statement before
 * commit (one lock per Postgres schema): seq order is therefore commit order, and a reader
 * that has seen seq N will never later find a newly committed event below N.
 */
export const OUTBOX_APPEND_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('stratum.outbox.' || current_schema()))::text AS locked`;

/** Events after `after`, in commit order (seq). */
export async function readEvents(db: PrismaClient, after: OutboxPosition, limit: number): Promise<(LifecycleEvent & { position: OutboxPosition })[]> {
  const rows = await db.$queryRaw<EventRow[]>`
    SELECT "id", "seq", "orgId", "predictionId", "type", "data", "createdAt"
    FROM "PredictionEvent"
    WHERE "seq" > ${after.seq}::bigint
    ORDER BY "seq"
    LIMIT ${limit}`;
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    orgId: r.orgId,
    predictionId: r.predictionId,
    data: r.data,
    occurredAt: r.createdAt,
    position: { seq: BigInt(r.seq) },
  })) as (LifecycleEvent & { position: OutboxPosition })[];
}

/** The newest event's seq (0 when there is none): one index lookup, so idle consumers can skip their round. */
export async function outboxHead(db: PrismaClient): Promise<bigint> {
  const rows = await db.$queryRaw<{ seq: bigint | null }[]>`SELECT max("seq") AS "seq" FROM "PredictionEvent"`;
  return BigInt(rows[0]?.seq ?? 0);
}

/**
 * Takes (or renews) the consumer's lease and returns its position; null while another runner
 * holds it. One runner per consumer at a time, whichever gateway it is on.
 */
export async function leaseConsumer(db: PrismaClient, name: string, owner: string, leaseMs: number): Promise<OutboxPosition | null> {
  const take = () => db.$queryRaw<{ seq: bigint }[]>`
    UPDATE "OutboxConsumer"
    SET "leaseOwner" = ${owner}, "leaseUntil" = now() + (${leaseMs}::int * interval '1 millisecond'), "updatedAt" = now()
    WHERE "name" = ${name} AND ("leaseOwner" IS NULL OR "leaseOwner" = ${owner} OR "leaseUntil" < now())
    RETURNING "seq"`;
  let rows = await take();
  if (rows.length === 0 && (await db.outboxConsumer.createMany({ data: [{ name }], skipDuplicates: true })).count === 1) rows = await take();
  const row = rows[0];
  return row ? { seq: BigInt(row.seq) } : null;
}

/** Saves the position, only while holding the lease; false when the lease was lost. */
export async function savePosition(db: PrismaClient, name: string, owner: string, p: OutboxPosition): Promise<boolean> {
  const { count } = await db.outboxConsumer.updateMany({ where: { name, leaseOwner: owner }, data: { seq: p.seq } });
  return count === 1;
}

export async function releaseConsumer(db: PrismaClient, name: string, owner: string): Promise<void> {
  await db.outboxConsumer.updateMany({ where: { name, leaseOwner: owner }, data: { leaseOwner: null, leaseUntil: null } });
}

export interface DeliveryResult {
  /** Events read (handled or skipped by type). */
  read: number;
  handled: number;
  /** The batch was full: more may be waiting. */
  more: boolean;
  /** false when another runner holds the lease. */
  leased: boolean;
  /** Where the consumer stands after the round (its saved position); null when not leased. */
  position: OutboxPosition | null;
}

/**
 * One round for one consumer: lease, read a batch, hand each wanted event to the consumer in
 * order, then save the position after the last event handled. A throw from `handle` stops
 * the round before that event (it is delivered again next round); a crash between handling
 * and saving delivers the handled events again: at least once, so consumers are idempotent.
 */
export async function deliverOnce(db: PrismaClient, consumer: LifecycleConsumer, owner: string, opts: { batch: number; leaseMs: number }): Promise<DeliveryResult> {
  const start = await leaseConsumer(db, consumer.name, owner, opts.leaseMs);
  if (!start) return { read: 0, handled: 0, more: false, leased: false, position: null };
  const events = await readEvents(db, start, opts.batch);
  let last: OutboxPosition | null = null;
  let handled = 0;
  let failure: Error | null = null;
  const wanted = (e: LifecycleEvent) => !consumer.types || consumer.types.includes(e.type);
  if (consumer.handleBatch) {
    // All or nothing: a throw delivers the whole batch again.
    const batch = events.filter(wanted);
    try {
      if (batch.length) await consumer.handleBatch(batch);
      handled = batch.length;
      last = events.at(-1)?.position ?? null;
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
    }
  } else {
    for (const e of events) {
      if (wanted(e)) {
        try {
          await consumer.handle(e);
        } catch (err) {
          failure = err instanceof Error ? err : new Error(String(err));
          break;
        }
        handled++;
      }
      last = e.position;
    }
  }
  if (last) await savePosition(db, consumer.name, owner, last);
  if (failure) throw failure;
  return { read: events.length, handled, more: events.length === opts.batch, leased: true, position: last ?? start };
}

/** Deletes lifecycle events older than `before` (retention), in bounded batches. */
export async function pruneEvents(db: PrismaClient, before: Date, batch = 5_000): Promise<number> {
  const n = await db.$executeRaw`DELETE FROM "PredictionEvent" WHERE "id" IN (SELECT "id" FROM "PredictionEvent" WHERE "createdAt" < ${before} LIMIT ${batch})`;
  return n;
}


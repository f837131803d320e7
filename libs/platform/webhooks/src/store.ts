import { uuidv7, type Prisma, type PrismaClient } from '#infra/db';

/**
 * The delivery engine's storage (Postgres, the record of truth): messages waiting or done, and
 * every attempt. Generic: a message is a JSON payload of some event type for one target URL
 * (a registered endpoint, or an ad hoc URL such as a prediction's `webhook`), so billing
 * webhooks reuse it as they are.
 */
export interface NewWebhookMessage<T = unknown> {
  orgId: string;
  /** null for an ad hoc URL (not a registered endpoint). */
  endpointId: string | null;
  url: string;
  eventType: string;
  /** Unique per (source event, target): a redelivered source event creates nothing new. */
  dedupeKey: string;
  payload: T;
}

/** Stores messages for delivery as soon as the loop sees them (also inside a caller's transaction); duplicates (by dedupeKey) are skipped. Returns how many are new. */
export async function enqueueMessages<T>(db: Pick<PrismaClient, 'webhookMessage'> | Pick<Prisma.TransactionClient, 'webhookMessage'>, messages: readonly NewWebhookMessage<T>[], now = new Date()): Promise<number> {
  if (messages.length === 0) return 0;
  const { count } = await db.webhookMessage.createMany({
    data: messages.map((m) => ({ id: uuidv7(), orgId: m.orgId, endpointId: m.endpointId, url: m.url, eventType: m.eventType, dedupeKey: m.dedupeKey, payload: m.payload as object, nextAttemptAt: now })),
    skipDuplicates: true,
  });
  return count;
}

export interface ClaimedMessage {
  id: string;
  orgId: string;
  endpointId: string | null;
  url: string;
  eventType: string;
  payload: unknown;
  /** Attempts in the current run (a replay starts a new run). */
  attempts: number;
  /** Attempts ever made. */
  totalAttempts: number;
}

/**
 * Claims up to `limit` due messages for `lockMs` (other delivery loops skip them; a loop that
 * dies leaves them to be claimed again when the lock runs out).
 */
export async function claimDue(db: PrismaClient, limit: number, lockMs: number): Promise<ClaimedMessage[]> {
  return db.$queryRaw<ClaimedMessage[]>`
    UPDATE "WebhookMessage" SET "lockedUntil" = now() + (${lockMs}::int * interval '1 millisecond')
    WHERE "id" IN (
      SELECT "id" FROM "WebhookMessage"
      WHERE "status" = 'pending' AND "nextAttemptAt" <= now() AND ("lockedUntil" IS NULL OR "lockedUntil" < now())
      ORDER BY "nextAttemptAt"
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING "id", "orgId", "endpointId", "url", "eventType", "payload", "attempts", "totalAttempts"`;
}

export interface AttemptRecord {
  status: number | null;
  response: string;
  durationMs: number;
}

export type MessageOutcome = { kind: 'delivered' } | { kind: 'retry'; at: Date } | { kind: 'failed' } | { kind: 'gone' } | { kind: 'canceled' };

/** Records one attempt and moves its message on, in one transaction. A 410 also disables the endpoint. */
export async function recordAttempt(db: PrismaClient, m: ClaimedMessage, url: string, attempt: AttemptRecord | null, outcome: MessageOutcome, now = new Date()): Promise<void> {
  const status = outcome.kind === 'delivered' ? 'succeeded' : outcome.kind === 'retry' ? 'pending' : outcome.kind === 'canceled' ? 'canceled' : 'failed';
  const writes: Prisma.PrismaPromise<unknown>[] = [];
  if (attempt) {
    writes.push(
      db.webhookAttempt.create({
        data: {
          id: uuidv7(),
          messageId: m.id,
          orgId: m.orgId,
          endpointId: m.endpointId,
          url,
          attempt: m.totalAttempts + 1,
          trigger: m.attempts > 0 ? 'retry' : m.totalAttempts > 0 ? 'replay' : 'initial',
          status: attempt.status,
          response: attempt.response,
          durationMs: attempt.durationMs,
          createdAt: now,
        },
      }),
    );
  }
  const bump = attempt ? 1 : 0;
  writes.push(
    db.webhookMessage.update({
      where: { id: m.id },
      data: {
        status,
        attempts: m.attempts + bump,
        totalAttempts: m.totalAttempts + bump,
        lockedUntil: null,
        nextAttemptAt: outcome.kind === 'retry' ? outcome.at : null,
        ...(outcome.kind === 'delivered' ? { deliveredAt: now } : {}),
      },
    }),
  );
  if (outcome.kind === 'gone' && m.endpointId) writes.push(db.webhookEndpoint.updateMany({ where: { id: m.endpointId }, data: { enabled: false, disabledReason: 'gone' } }));
  await db.$transaction(writes);
}

/** Sends a message again now, as a new run of the schedule (its attempts keep counting). False when there is no such message. */
export async function replayMessage(db: PrismaClient, orgId: string, id: string, now = new Date()): Promise<boolean> {
  const { count } = await db.webhookMessage.updateMany({ where: { id, orgId }, data: { status: 'pending', attempts: 0, nextAttemptAt: now, lockedUntil: null } });
  return count === 1;
}

/**
 * Retention: deletes finished messages (and their attempts) created before `before`, in bounded
 * batches; returns how many messages went. Payloads copy predictions' outputs, so they go with
 * the predictions' own (PREDICTION_RETENTION_DAYS). Pending messages stay until their schedule ends.
 */
export async function pruneMessages(db: PrismaClient, before: Date, batch = 5_000): Promise<number> {
  const rows = await db.webhookMessage.findMany({ where: { createdAt: { lt: before }, status: { not: 'pending' } }, select: { id: true }, take: batch });
  if (rows.length === 0) return 0;
  const ids = rows.map((r) => r.id);
  const [, gone] = await db.$transaction([db.webhookAttempt.deleteMany({ where: { messageId: { in: ids } } }), db.webhookMessage.deleteMany({ where: { id: { in: ids } } })]);
  return gone.count;
}

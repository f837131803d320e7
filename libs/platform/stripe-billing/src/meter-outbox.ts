import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { AppConfig } from '#infra/config';
import { Prisma, PrismaClient } from '#infra/db';
import { MetricsRegistry } from '#infra/metrics';
import type { UsageEventInput, UsageOutbox } from '#platform/metering';
import { StripeCustomers } from './customers.js';
import { backoffMs, planBatches } from './meter-batches.js';
import { isDuplicateIdentifier, isPermanent, type StripeApi } from './stripe-api.js';
import { STRIPE_API } from './stripe-context.js';

const FORM_LIMIT = 5_000;
const SEND_LIMIT = 200;
const SEND_CONCURRENCY = 4;
/** A batch being sent is hidden from other senders this long (a sender that died mid-send). */
const SEND_LEASE_MS = 60_000;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export interface FlushReport {
  batched: number;
  sent: number;
  failed: number;
}

interface DueBatch {
  batchId: string;
  orgId: string;
  eventName: string;
  units: bigint;
  occurredAt: Date;
  attempts: number;
}

/**
 * The Stripe meter-event outbox. `append` runs inside the usage consumer's transaction (the
 * row commits with its ledger row or not at all); the sender sums pending rows into meter
 * events (see planBatches), persists each batch's identifier before the first attempt, and
 * retries with backoff until Stripe accepts, so an outage only delays billing.
 */
@Injectable()
export class MeterOutbox implements UsageOutbox, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('StripeMeter');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
    private readonly customers: StripeCustomers,
    @Inject(STRIPE_API) private readonly api: StripeApi | null,
    metrics: MetricsRegistry,
  ) {
    const prisma = this.db;
    new Gauge({
      name: 'stratum_stripe_outbox_pending',
      help: 'Usage events not yet acknowledged by Stripe (meter-event outbox rows)',
      registers: [metrics.registry],
      async collect() {
        try {
          this.set(await prisma.stripeMeterOutbox.count({ where: { acknowledgedAt: null } }));
        } catch {
          /* Postgres unreachable: keep the last value */
        }
      },
    });
  }

  /** Live usage only (test-mode usage is never billed); keyed by the usage event id, so a redelivery adds nothing. */
  async append(tx: Prisma.TransactionClient, usage: readonly UsageEventInput[]): Promise<void> {
    const data = usage.filter((u) => u.mode === 'live').map((u) => ({ id: u.id, orgId: u.orgId, eventName: this.config.env.STRIPE_METER_EVENT_NAME, units: u.units, occurredAt: u.occurredAt }));
    if (data.length) await tx.stripeMeterOutbox.createMany({ data, skipDuplicates: true });
  }

  onApplicationBootstrap(): void {
    if (this.config.env.SYSTEM_JOBS !== 'on' || !this.api) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.flush()
        .catch((e: unknown) => this.logger.warn(`meter outbox: ${message(e)}`))
        .finally(() => (this.running = undefined));
    }, this.config.env.STRIPE_METER_FLUSH_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: batch what is pending, then send what is due (exposed for tests and reconciliation). */
  async flush(now = new Date()): Promise<FlushReport> {
    const batched = await this.formBatches();
    const report: FlushReport = { batched, sent: 0, failed: 0 };
    if (!this.api) return report;
    const due = await this.db.$queryRaw<DueBatch[]>`
      SELECT "batchId", min("orgId"::text) AS "orgId", min("eventName") AS "eventName", sum("units")::bigint AS "units",
             max("occurredAt") AS "occurredAt", max("attempts")::int AS "attempts"
      FROM "StripeMeterOutbox"
      WHERE "acknowledgedAt" IS NULL AND "batchId" IS NOT NULL AND "nextAttemptAt" <= ${now}
      GROUP BY "batchId" ORDER BY min("nextAttemptAt") LIMIT ${SEND_LIMIT}`;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < due.length) {
        const b = due[next++]!;
        const outcome = await this.sendBatch(b, now);
        if (outcome === 'sent') report.sent++;
        else if (outcome === 'failed') report.failed++;
      }
    };
    await Promise.all(Array.from({ length: SEND_CONCURRENCY }, worker));
    return report;
  }

  /** Assigns a batch (its identifier) to unbatched rows; rows locked by another sender are skipped. */
  private async formBatches(): Promise<number> {
    return this.db.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ id: string; orgId: string; eventName: string; units: number; occurredAt: Date }[]>`
        SELECT "id"::text, "orgId"::text, "eventName", "units", "occurredAt" FROM "StripeMeterOutbox"
        WHERE "batchId" IS NULL AND "acknowledgedAt" IS NULL
        ORDER BY "occurredAt" LIMIT ${FORM_LIMIT} FOR UPDATE SKIP LOCKED`;
      const batches = planBatches(rows, this.config.env.STRIPE_METER_BATCH_MAX);
      for (const b of batches) await tx.stripeMeterOutbox.updateMany({ where: { id: { in: b.ids } }, data: { batchId: b.batchId } });
      return rows.length;
    });
  }

  private async sendBatch(b: DueBatch, now: Date): Promise<'sent' | 'failed' | 'skipped'> {
    // Claim: one sender per batch at a time (another gateway finds nextAttemptAt in the future).
    const claimed = await this.db.stripeMeterOutbox.updateMany({ where: { batchId: b.batchId, acknowledgedAt: null, nextAttemptAt: { lte: now } }, data: { nextAttemptAt: new Date(now.getTime() + SEND_LEASE_MS) } });
    if (claimed.count === 0) return 'skipped';
    try {
      const customerId = await this.customers.ensure(b.orgId);
      await this.api!.sendMeterEvent({ eventName: b.eventName, customerId, value: Number(b.units), identifier: b.batchId, timestamp: b.occurredAt });
    } catch (e) {
      if (!isDuplicateIdentifier(e)) {
        const attempts = b.attempts + 1;
        const retryIn = backoffMs(attempts, this.config.env.STRIPE_RETRY_MAX_MS);
        await this.db.stripeMeterOutbox.updateMany({ where: { batchId: b.batchId, acknowledgedAt: null }, data: { attempts, nextAttemptAt: new Date(Date.now() + retryIn), lastError: message(e).slice(0, 500) } });
        const level = isPermanent(e) ? 'error' : 'warn';
        this.logger[level](`meter event ${b.batchId} (${b.units} units of ${b.orgId}) not accepted by Stripe, attempt ${attempts}: ${message(e)}; retrying in ${retryIn} ms`);
        return 'failed';
      }
      // Stripe has this identifier already: the usage reached it before (e.g. the answer was lost).
    }
    await this.db.stripeMeterOutbox.updateMany({ where: { batchId: b.batchId }, data: { acknowledgedAt: new Date(), lastError: null } });
    return 'sent';
  }

  /** Makes every unacknowledged row due now (reconciliation's "send again"); returns how many. */
  async resendUnacknowledged(olderThan: Date): Promise<number> {
    const r = await this.db.stripeMeterOutbox.updateMany({ where: { acknowledgedAt: null, createdAt: { lt: olderThan }, nextAttemptAt: { gt: new Date() } }, data: { nextAttemptAt: new Date() } });
    return r.count;
  }
}

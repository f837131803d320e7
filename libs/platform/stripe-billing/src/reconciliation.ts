import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { AppConfig } from '#infra/config';
import { PrismaClient } from '#infra/db';
import { MetricsRegistry } from '#infra/metrics';
import { monthPeriod, QuotaService, uuidv7Bounds, type QuotaMode } from '#platform/quotas';
import { MeterOutbox } from './meter-outbox.js';

export type DriftKind = 'quota_counter' | 'stripe_unacknowledged' | 'outbox_missing';
export const DRIFT_KINDS: readonly DriftKind[] = ['quota_counter', 'stripe_unacknowledged', 'outbox_missing'];

export interface ReconcileReport {
  /** Units (quota_counter) or usage events (the others) found out of step, per kind. */
  drift: Record<DriftKind, number>;
  repaired: { counters: number; resent: number; outboxRows: number };
}

/** Units a counter is off by (pure): |used − what the ledger says|. */
export function driftOf(counterUsed: number, ledgerUsed: number): number {
  return Math.abs(counterUsed - ledgerUsed);
}

/** A row unacknowledged this long is "never confirmed" (beyond the sender's normal delay). */
const UNACKNOWLEDGED_AFTER_MS = 10 * 60_000;

/**
 * Compares the ledger (UsageEvent), the quota counters (Redis) and what Stripe acknowledged
 * (the meter outbox), repairs what it can — counters rebuilt from the ledger, live usage
 * missing from the outbox added to it, unconfirmed meter events sent again now (same
 * identifiers, so Stripe cannot count them twice) — and reports drift as
 * `stratum_billing_drift{kind}` and a log line.
 */
@Injectable()
export class Reconciliation implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Reconciliation');
  private readonly gauge: Gauge<'kind'>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
    private readonly quotas: QuotaService,
    private readonly outbox: MeterOutbox,
    metrics: MetricsRegistry,
  ) {
    this.gauge = new Gauge({ name: 'stratum_billing_drift', help: 'Drift found by the last billing reconciliation, per kind (quota_counter: units; others: usage events)', labelNames: ['kind'], registers: [metrics.registry] });
    for (const k of DRIFT_KINDS) this.gauge.set({ kind: k }, 0);
  }

  onApplicationBootstrap(): void {
    const every = this.config.env.BILLING_RECONCILE_MS;
    if (this.config.env.SYSTEM_JOBS !== 'on' || every === 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.reconcile()
        .catch((e: unknown) => this.logger.warn(`reconciliation: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => (this.running = undefined));
    }, every);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async reconcile(now = new Date()): Promise<ReconcileReport> {
    const report: ReconcileReport = { drift: { quota_counter: 0, stripe_unacknowledged: 0, outbox_missing: 0 }, repaired: { counters: 0, resent: 0, outboxRows: 0 } };
    await this.counters(now, report);
    if (this.config.env.STRIPE_SECRET_KEY) await this.stripe(now, report);
    for (const k of DRIFT_KINDS) this.gauge.set({ kind: k }, report.drift[k]);
    const total = DRIFT_KINDS.reduce((n, k) => n + report.drift[k], 0);
    if (total > 0) this.logger.warn(`billing drift: ${DRIFT_KINDS.map((k) => `${k}=${report.drift[k]}`).join(' ')}; repaired counters=${report.repaired.counters} resent=${report.repaired.resent} outbox_rows=${report.repaired.outboxRows}`);
    else this.logger.log('billing reconciled: no drift');
    return report;
  }

  /** Quota counters of this month against the ledger; a counter off (twice in a row, so not a settlement in flight) is rebuilt. */
  private async counters(now: Date, report: ReconcileReport): Promise<void> {
    const period = monthPeriod(now);
    const { lower, upper } = uuidv7Bounds(period);
    const scopes = await this.db.$queryRaw<{ orgId: string; mode: QuotaMode }[]>`
      SELECT DISTINCT "orgId"::text AS "orgId", mode::text AS mode FROM "UsageEvent" WHERE id >= ${lower}::uuid AND id < ${upper}::uuid`;
    for (const scope of scopes) {
      const off = async (): Promise<number> => {
        const counter = await this.quotas.current(scope, period);
        if (!counter) return 0; // missing: rebuilt from the ledger on its next use
        const expected = await this.quotas.rebuild(scope, period, 'init'); // computes; writes only a missing counter
        return driftOf(counter.used, expected.used);
      };
      if ((await off()) === 0) continue;
      const units = await off();
      if (units === 0) continue;
      report.drift.quota_counter += units;
      await this.quotas.rebuild(scope, period, 'force');
      report.repaired.counters++;
      this.logger.warn(`quota counter of ${scope.orgId} (${scope.mode}, ${period.id}) was off the ledger by ${units} units: rebuilt`);
    }
  }

  private async stripe(now: Date, report: ReconcileReport): Promise<void> {
    // Live usage of the last 35 days (Stripe's meter-event window) without an outbox row.
    const since = new Date(now.getTime() - 35 * 86_400_000);
    const added = await this.db.$executeRaw`
      INSERT INTO "StripeMeterOutbox" ("id", "orgId", "eventName", "units", "occurredAt")
      SELECT u."id", u."orgId", ${this.config.env.STRIPE_METER_EVENT_NAME}, u."units", u."occurredAt" FROM "UsageEvent" u
      WHERE u."mode" = 'live' AND u."occurredAt" >= ${since} AND NOT EXISTS (SELECT 1 FROM "StripeMeterOutbox" o WHERE o."id" = u."id")
      ON CONFLICT ("id") DO NOTHING`;
    report.drift.outbox_missing = added;
    report.repaired.outboxRows = added;
    // Never confirmed by Stripe although sent long ago: due again now.
    const cutoff = new Date(now.getTime() - UNACKNOWLEDGED_AFTER_MS);
    report.drift.stripe_unacknowledged = await this.db.stripeMeterOutbox.count({ where: { acknowledgedAt: null, createdAt: { lt: cutoff } } });
    report.repaired.resent = await this.outbox.resendUnacknowledged(cutoff);
  }
}

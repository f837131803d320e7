import { Inject, Injectable, Optional } from '@nestjs/common';
import { Counter } from 'prom-client';
import { PrismaClient } from '#infra/db';
import { MetricsRegistry } from '#infra/metrics';
import type { LifecycleConsumer, LifecycleEvent } from '#platform/predictions';
import { modelDimension, reachThresholds, recordUsage } from '#platform/usage';
import type { UsageEventInput } from './usage-event.js';
import { USAGE_OUTBOX, type UsageOutbox } from './usage-outbox.js';

/** The usage event a `prediction.succeeded` derives (its id is the prediction id); null for other events. */
export function usageOf(event: LifecycleEvent): UsageEventInput | null {
  if (event.type !== 'prediction.succeeded') return null;
  const d = event.data; // units were checked when the success was recorded (PredictionLifecycle.succeed)
  return { id: event.predictionId, orgId: event.orgId, apiKeyId: d.apiKeyId, feature: d.feature, units: d.units, unitType: d.unitType, mode: d.mode, model: modelDimension(d.models), occurredAt: event.occurredAt };
}

/**
 * Derives the usage ledger from `prediction.succeeded`: one usage event per successful
 * prediction, its id the prediction id, so a redelivered event (at-least-once) can never
 * count twice. Failures and cancellations emit no succeeded event, so they are never
 * recorded; test-mode usage is recorded with mode "test" and never billed.
 * A round is one transaction: the raw events and their rollups in one statement (only rows
 * not recorded before are added to the rollups), then the usage thresholds the round crossed
 * (#platform/usage). `stratum_usage_units_total` counts what was newly recorded.
 */
@Injectable()
export class UsageConsumer implements LifecycleConsumer {
  readonly name = 'usage';
  readonly types = ['prediction.succeeded'] as const;
  /** A round is one statement: larger rounds cost little more than small ones (bench/usage-ingest.ts). */
  readonly batchSize = 2_000;
  private readonly unitsTotal: Counter<'feature' | 'mode'> | undefined;

  constructor(
    private readonly db: PrismaClient,
    @Optional() metrics?: MetricsRegistry,
    @Optional() @Inject(USAGE_OUTBOX) private readonly outbox?: UsageOutbox,
  ) {
    this.unitsTotal = metrics
      ? ((metrics.registry.getSingleMetric('stratum_usage_units_total') as Counter<'feature' | 'mode'> | undefined) ??
        new Counter({ name: 'stratum_usage_units_total', help: 'Billing units recorded in the usage ledger (each usage event once)', labelNames: ['feature', 'mode'], registers: [metrics.registry] }))
      : undefined;
  }

  async handle(event: LifecycleEvent): Promise<void> {
    await this.handleBatch([event]);
  }

  /**
   * One transaction per round: the ledger rows and their rollups, the usage thresholds, and
   * (Stripe mode) the meter outbox rows; duplicates (redeliveries) change nothing.
   */
  async handleBatch(events: LifecycleEvent[]): Promise<void> {
    const data = events.map(usageOf).filter((u): u is UsageEventInput => u !== null);
    if (!data.length) return;
    const outbox = this.outbox;
    const recorded = await this.db.$transaction(async (tx) => {
      const rows = await recordUsage(tx, data);
      await reachThresholds(tx, rows);
      if (outbox) await outbox.append(tx, data);
      return rows;
    }, { maxWait: 10_000, timeout: 60_000 });
    for (const r of recorded) this.unitsTotal?.inc({ feature: r.feature, mode: r.mode }, r.units);
  }
}

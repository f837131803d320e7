import { Inject, Injectable, Optional } from '@nestjs/common';
import { PrismaClient } from '#infra/db';
import type { LifecycleConsumer, LifecycleEvent } from '#platform/predictions';
import type { UsageEventInput } from './usage-event.js';
import { USAGE_OUTBOX, type UsageOutbox } from './usage-outbox.js';

/** The usage event a `prediction.succeeded` derives (its id is the prediction id); null for other events. */
export function usageOf(event: LifecycleEvent): UsageEventInput | null {
  if (event.type !== 'prediction.succeeded') return null;
  const d = event.data; // units were checked when the success was recorded (PredictionLifecycle.succeed)
  return { id: event.predictionId, orgId: event.orgId, apiKeyId: d.apiKeyId, feature: d.feature, units: d.units, unitType: d.unitType, mode: d.mode, occurredAt: event.occurredAt };
}

/**
 * Derives the usage ledger from `prediction.succeeded`: one usage event per successful
 * prediction, its id the prediction id, so a redelivered event (at-least-once) can never
 * count twice. Failures and cancellations emit no succeeded event, so they are never
 * recorded; test-mode usage is recorded with mode "test" and never billed.
 */
@Injectable()
export class UsageConsumer implements LifecycleConsumer {
  readonly name = 'usage';
  readonly types = ['prediction.succeeded'] as const;

  constructor(
    private readonly db: PrismaClient,
    @Optional() @Inject(USAGE_OUTBOX) private readonly outbox?: UsageOutbox,
  ) {}

  async handle(event: LifecycleEvent): Promise<void> {
    await this.handleBatch([event]);
  }

  /**
   * One INSERT for a round's events; duplicates (redeliveries) are skipped by id. With an
   * outbox (Stripe mode) its rows are written in the same transaction as the ledger rows.
   */
  async handleBatch(events: LifecycleEvent[]): Promise<void> {
    const data = events.map(usageOf).filter((u): u is UsageEventInput => u !== null);
    if (!data.length) return;
    const outbox = this.outbox;
    if (!outbox) {
      await this.db.usageEvent.createMany({ data, skipDuplicates: true });
      return;
    }
    await this.db.$transaction(async (tx) => {
      await tx.usageEvent.createMany({ data, skipDuplicates: true });
      await outbox.append(tx, data);
    });
  }
}

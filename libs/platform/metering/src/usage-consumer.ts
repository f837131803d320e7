import { Injectable } from '@nestjs/common';
import { PrismaClient } from '#infra/db';
import type { LifecycleConsumer, LifecycleEvent } from '#platform/predictions';
import { recordUsage } from './usage-event.js';

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

  constructor(private readonly db: PrismaClient) {}

  async handle(event: LifecycleEvent): Promise<void> {
    if (event.type !== 'prediction.succeeded') return;
    const d = event.data;
    await recordUsage(this.db, {
      id: event.predictionId,
      orgId: event.orgId,
      apiKeyId: d.apiKeyId,
      feature: d.feature,
      units: d.units,
      unitType: d.unitType,
      mode: d.mode,
      occurredAt: event.occurredAt,
    });
  }
}

import { Injectable } from '@nestjs/common';
import type { LifecycleConsumer, LifecycleEvent } from '#platform/predictions';
import { QuotaService } from './quota.service.js';

/** What a terminal lifecycle event does to its prediction's reservation: settle to its units, give it back (null), or nothing. */
export function settlementOf(event: LifecycleEvent): { actual: number | null } | undefined {
  switch (event.type) {
    case 'prediction.succeeded':
      return { actual: event.data.units };
    case 'prediction.failed':
    case 'prediction.canceled':
      return { actual: null };
    default:
      return undefined;
  }
}

/**
 * Settles quota reservations from the lifecycle: a success turns its reservation into its
 * actual units, a failure or cancellation gives it back. Idempotent (a settled reservation is
 * gone), so at-least-once delivery never counts twice.
 */
@Injectable()
export class QuotaConsumer implements LifecycleConsumer {
  readonly name = 'quota';
  readonly types = ['prediction.succeeded', 'prediction.failed', 'prediction.canceled'] as const;

  constructor(private readonly quotas: QuotaService) {}

  async handle(event: LifecycleEvent): Promise<void> {
    const s = settlementOf(event);
    if (s) await this.quotas.settle({ orgId: event.orgId, mode: event.data.mode }, event.predictionId, s.actual);
  }
}

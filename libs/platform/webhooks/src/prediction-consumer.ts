import { Injectable } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { PrismaClient } from '#infra/db';
import { toPredictionView, type LifecycleConsumer, type LifecycleEvent, type PredictionRecord } from '#platform/predictions';
import { endpointWants, predictionPayload, predictionWebhookWants } from './prediction-events.js';
import { enqueueMessages, type NewWebhookMessage } from './store.js';

/** Builds the messages of a round of lifecycle events (pure): one per wanting target, deduplicated by event id and target. */
export function predictionMessages(
  events: readonly LifecycleEvent[],
  predictions: ReadonlyMap<string, PredictionRecord & { webhook: string | null; webhookEventsFilter: string[] }>,
  endpoints: readonly { id: string; orgId: string; url: string; eventTypes: string[] }[],
  baseUrl: string,
): NewWebhookMessage[] {
  const out: NewWebhookMessage[] = [];
  for (const e of events) {
    const p = predictions.get(e.predictionId);
    if (!p) continue;
    const payload = predictionPayload(e, toPredictionView(p, baseUrl));
    if (p.webhook && predictionWebhookWants(p.webhookEventsFilter, e.type)) {
      out.push({ orgId: e.orgId, endpointId: null, url: p.webhook, eventType: e.type, dedupeKey: `${e.id}:prediction`, payload });
    }
    for (const ep of endpoints) {
      if (ep.orgId === e.orgId && endpointWants(ep.eventTypes, e.type)) out.push({ orgId: e.orgId, endpointId: ep.id, url: ep.url, eventType: e.type, dedupeKey: `${e.id}:${ep.id}`, payload });
    }
  }
  return out;
}

/**
 * The `webhooks` lifecycle consumer: turns prediction events into webhook messages (a
 * prediction's own URL with its events filter, and the organization's enabled endpoints);
 * the delivery loop sends them. Idempotent: a redelivered event finds its messages made.
 */
@Injectable()
export class PredictionWebhooksConsumer implements LifecycleConsumer {
  readonly name = 'webhooks';

  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
  ) {}

  async handle(event: LifecycleEvent): Promise<void> {
    await this.handleBatch([event]);
  }

  async handleBatch(events: LifecycleEvent[]): Promise<void> {
    if (events.length === 0) return;
    const orgIds = [...new Set(events.map((e) => e.orgId))];
    const endpoints = await this.db.webhookEndpoint.findMany({ where: { orgId: { in: orgIds }, enabled: true, deletedAt: null }, select: { id: true, orgId: true, url: true, eventTypes: true } });
    const ids = [...new Set(events.map((e) => e.predictionId))];
    const rows = await this.db.prediction.findMany({
      where: { id: { in: ids }, ...(endpoints.length === 0 ? { webhook: { not: null } } : {}) },
      select: { id: true, orgId: true, apiKeyId: true, mode: true, feature: true, featureVersion: true, status: true, output: true, error: true, units: true, metrics: true, models: true, createdAt: true, startedAt: true, completedAt: true, webhook: true, webhookEventsFilter: true },
    });
    if (rows.length === 0) return;
    const predictions = new Map(rows.map((r) => [r.id, r as typeof r & PredictionRecord]));
    await enqueueMessages(this.db, predictionMessages(events, predictions, endpoints, this.config.publicBaseUrl));
  }
}

import { Injectable } from '@nestjs/common';
import { PrismaClient } from '#infra/db';
import { endpointWants, enqueueMessages } from '#platform/webhooks';
import type { StripeTenantEventType } from './billing-state.js';

/** Billing events for the tenant's registered endpoints, delivered by #platform/webhooks' engine. */
@Injectable()
export class TenantBillingWebhooks {
  constructor(private readonly db: PrismaClient) {}

  /** One message per endpoint that wants `type`; `dedupeKey` (per source event) makes redeliveries add nothing. */
  async emit(orgId: string, type: StripeTenantEventType, dedupeKey: string, data: Record<string, unknown>, now = new Date()): Promise<number> {
    const endpoints = await this.db.webhookEndpoint.findMany({ where: { orgId, enabled: true, deletedAt: null }, select: { id: true, url: true, eventTypes: true } });
    const payload = { type, timestamp: now.toISOString(), data };
    return enqueueMessages(
      this.db,
      endpoints.filter((ep) => endpointWants(ep.eventTypes, type)).map((ep) => ({ orgId, endpointId: ep.id, url: ep.url, eventType: type, dedupeKey: `${dedupeKey}:${ep.id}`, payload })),
      now,
    );
  }
}

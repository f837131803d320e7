import { Injectable } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { uuidv7, PrismaClient } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { writeAudit } from '#platform/audit';
import { actorId, type Actor } from '#platform/tenancy';
import type { EndpointInput } from './endpoint-input.js';
import { ensureSecret, rotateSecret } from './secrets.js';
import { replayMessage } from './store.js';

const auditActor = (a: Actor) => ({ orgId: a.orgId, actorType: a.kind, actorId: actorId(a), ip: a.ip });
const auditFields = (e: EndpointRow) => ({ url: e.url, event_types: e.eventTypes, description: e.description, enabled: e.enabled });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface EndpointView {
  id: string;
  object: 'webhook_endpoint';
  url: string;
  event_types: string[];
  description: string;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
}

export interface MessageView {
  id: string;
  object: 'webhook_message';
  endpoint_id: string | null;
  url: string;
  event_type: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
  payload: unknown;
}

export interface AttemptView {
  id: string;
  object: 'webhook_attempt';
  message_id: string;
  endpoint_id: string | null;
  url: string;
  attempt: number;
  trigger: string;
  status: number | null;
  response: string;
  duration_ms: number;
  created_at: string;
}

export interface Page<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

type EndpointRow = { id: string; url: string; eventTypes: string[]; description: string; enabled: boolean; disabledReason: string | null; createdAt: Date; updatedAt: Date };
const endpointView = (e: EndpointRow): EndpointView => ({
  id: e.id,
  object: 'webhook_endpoint',
  url: e.url,
  event_types: e.eventTypes,
  description: e.description,
  enabled: e.enabled,
  disabled_reason: e.disabledReason,
  created_at: e.createdAt.toISOString(),
  updated_at: e.updatedAt.toISOString(),
});

function page<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const has_more = rows.length > limit;
  const data = rows.slice(0, limit);
  return { object: 'list', data, has_more, next_cursor: has_more ? (data.at(-1)?.id ?? null) : null };
}

/** Webhook management for one organization: endpoints, the signing secret, messages, attempts, replay. */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
  ) {}

  /** Creates an endpoint; the answer carries the organization's signing secret when this call created it (shown once). */
  async createEndpoint(actor: Actor, input: EndpointInput & { url: string }): Promise<EndpointView & { secret?: string }> {
    const orgId = actor.orgId;
    const row = await this.db.$transaction(async (tx) => {
      const created = await tx.webhookEndpoint.create({
        data: { id: uuidv7(), orgId, url: input.url, eventTypes: input.eventTypes ?? [], description: input.description ?? '', enabled: input.enabled ?? true },
      });
      await writeAudit(tx, { ...auditActor(actor), action: 'webhook_endpoint.create', targetType: 'webhook_endpoint', targetId: created.id, changes: { after: auditFields(created) } });
      return created;
    });
    const { row: secret, created } = await ensureSecret(this.db, orgId);
    return { ...endpointView(row), ...(created ? { secret: secret.secret } : {}) };
  }

  async listEndpoints(orgId: string, p: { limit: number; after?: string }): Promise<Page<EndpointView>> {
    const rows = await this.db.webhookEndpoint.findMany({ where: { orgId, deletedAt: null, ...(p.after ? { id: { lt: p.after } } : {}) }, orderBy: { id: 'desc' }, take: p.limit + 1 });
    return page(rows.map(endpointView), p.limit);
  }

  private async endpoint(orgId: string, id: string): Promise<EndpointRow> {
    const row = UUID.test(id) ? await this.db.webhookEndpoint.findFirst({ where: { id: id.toLowerCase(), orgId, deletedAt: null } }) : null;
    if (!row) throw new ProblemError('not_found', `No webhook endpoint ${id} in this organization.`);
    return row;
  }

  async getEndpoint(orgId: string, id: string): Promise<EndpointView> {
    return endpointView(await this.endpoint(orgId, id));
  }

  /** Changes an endpoint; enabling it again clears why it was disabled. */
  async updateEndpoint(actor: Actor, id: string, input: EndpointInput): Promise<EndpointView> {
    const e = await this.endpoint(actor.orgId, id);
    const row = await this.db.$transaction(async (tx) => {
      const updated = await tx.webhookEndpoint.update({
        where: { id: e.id },
        data: {
          ...(input.url !== undefined ? { url: input.url } : {}),
          ...(input.eventTypes !== undefined ? { eventTypes: input.eventTypes } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled, disabledReason: null } : {}),
        },
      });
      await writeAudit(tx, { ...auditActor(actor), action: 'webhook_endpoint.update', targetType: 'webhook_endpoint', targetId: e.id, changes: { before: auditFields(e), after: auditFields(updated) } });
      return updated;
    });
    return endpointView(row);
  }

  /** Deletes an endpoint (its messages and attempts stay listable; waiting messages are canceled). */
  async deleteEndpoint(actor: Actor, id: string): Promise<void> {
    const e = await this.endpoint(actor.orgId, id);
    await this.db.$transaction(async (tx) => {
      await tx.webhookEndpoint.update({ where: { id: e.id }, data: { deletedAt: new Date(), enabled: false } });
      await writeAudit(tx, { ...auditActor(actor), action: 'webhook_endpoint.delete', targetType: 'webhook_endpoint', targetId: e.id, changes: { before: auditFields(e) } });
    });
  }

  async secretInfo(orgId: string): Promise<{ object: 'webhook_secret'; exists: boolean; rotated_at: string | null; previous_valid_until: string | null }> {
    const row = await this.db.webhookSecret.findUnique({ where: { orgId } });
    const overlap = row?.previousUntil && row.previousUntil.getTime() > Date.now() ? row.previousUntil.toISOString() : null;
    return { object: 'webhook_secret', exists: !!row, rotated_at: row?.rotatedAt.toISOString() ?? null, previous_valid_until: overlap };
  }

  /** A new signing secret, shown this once; the previous one keeps signing until previous_valid_until. */
  async rotateSecret(actor: Actor): Promise<{ object: 'webhook_secret'; secret: string; rotated_at: string; previous_valid_until: string | null }> {
    const row = await rotateSecret(this.db, actor.orgId, this.config.env.WEBHOOK_SECRET_OVERLAP_SECONDS);
    const previous_valid_until = row.previousUntil?.toISOString() ?? null;
    await writeAudit(this.db, { ...auditActor(actor), action: 'webhook_secret.rotate', targetType: 'webhook_secret', targetId: null, changes: { after: { rotated_at: row.rotatedAt.toISOString(), previous_valid_until } } });
    return { object: 'webhook_secret', secret: row.secret, rotated_at: row.rotatedAt.toISOString(), previous_valid_until };
  }

  async listMessages(orgId: string, filter: { endpointId?: string }, p: { limit: number; after?: string }): Promise<Page<MessageView>> {
    if (filter.endpointId !== undefined) await this.endpoint(orgId, filter.endpointId);
    const rows = await this.db.webhookMessage.findMany({
      where: { orgId, ...(filter.endpointId ? { endpointId: filter.endpointId.toLowerCase() } : {}), ...(p.after ? { id: { lt: p.after } } : {}) },
      orderBy: { id: 'desc' },
      take: p.limit + 1,
    });
    return page(
      rows.map((m) => ({
        id: m.id,
        object: 'webhook_message' as const,
        endpoint_id: m.endpointId,
        url: m.url,
        event_type: m.eventType,
        status: m.status,
        attempts: m.attempts,
        next_attempt_at: m.nextAttemptAt?.toISOString() ?? null,
        delivered_at: m.deliveredAt?.toISOString() ?? null,
        created_at: m.createdAt.toISOString(),
        payload: m.payload,
      })),
      p.limit,
    );
  }

  /** Attempts of one endpoint or of one message, newest first. */
  async listAttempts(orgId: string, of: { endpointId: string } | { messageId: string }, p: { limit: number; after?: string }): Promise<Page<AttemptView>> {
    if ('endpointId' in of) await this.endpoint(orgId, of.endpointId);
    else await this.message(orgId, of.messageId);
    const where = 'endpointId' in of ? { orgId, endpointId: of.endpointId.toLowerCase() } : { orgId, messageId: of.messageId.toLowerCase() };
    const rows = await this.db.webhookAttempt.findMany({ where: { ...where, ...(p.after ? { id: { lt: p.after } } : {}) }, orderBy: { id: 'desc' }, take: p.limit + 1 });
    return page(
      rows.map((a) => ({
        id: a.id,
        object: 'webhook_attempt' as const,
        message_id: a.messageId,
        endpoint_id: a.endpointId,
        url: a.url,
        attempt: a.attempt,
        trigger: a.trigger,
        status: a.status,
        response: a.response,
        duration_ms: a.durationMs,
        created_at: a.createdAt.toISOString(),
      })),
      p.limit,
    );
  }

  private async message(orgId: string, id: string): Promise<{ id: string; endpointId: string | null }> {
    const row = UUID.test(id) ? await this.db.webhookMessage.findFirst({ where: { id: id.toLowerCase(), orgId }, select: { id: true, endpointId: true } }) : null;
    if (!row) throw new ProblemError('not_found', `No webhook message ${id} in this organization.`);
    return row;
  }

  /** Sends a message again now (a new run of the retry schedule). Its endpoint must be enabled. */
  async replay(actor: Actor, id: string): Promise<{ object: 'webhook_message'; id: string; status: 'pending' }> {
    const orgId = actor.orgId;
    const m = await this.message(orgId, id);
    if (m.endpointId) {
      const ep = await this.db.webhookEndpoint.findUnique({ where: { id: m.endpointId }, select: { enabled: true, deletedAt: true } });
      if (!ep || ep.deletedAt || !ep.enabled) throw new ProblemError('conflict', "The message's endpoint is disabled or deleted: enable it (PATCH enabled: true) before replaying.");
    }
    await replayMessage(this.db, orgId, m.id);
    await writeAudit(this.db, { ...auditActor(actor), action: 'webhook_message.replay', targetType: 'webhook_message', targetId: m.id });
    return { object: 'webhook_message', id: m.id, status: 'pending' };
  }
}

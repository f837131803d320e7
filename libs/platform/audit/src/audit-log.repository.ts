import { Injectable } from '@nestjs/common';
import { PrismaClient } from '#infra/db';
import type { AuditFilter, AuditPage } from './audit-query.js';

/** The stored entry, as the listing reads it. */
export interface AuditRecord {
  id: string;
  action: string;
  actorType: string;
  actorId: string;
  targetType: string;
  targetId: string | null;
  ip: string | null;
  changes: unknown;
  createdAt: Date;
}

/** The public audit-log entry (snake_case). */
export interface AuditEntryView {
  id: string;
  object: 'audit_entry';
  action: string;
  actor: { type: 'user' | 'api_key'; id: string };
  target: { type: string; id: string | null };
  ip: string | null;
  changes: unknown;
  created_at: string;
}

export function toAuditEntryView(r: AuditRecord): AuditEntryView {
  return {
    id: r.id,
    object: 'audit_entry',
    action: r.action,
    actor: { type: r.actorType === 'api_key' ? 'api_key' : 'user', id: r.actorId },
    target: { type: r.targetType, id: r.targetId },
    ip: r.ip,
    changes: r.changes ?? null,
    created_at: r.createdAt.toISOString(),
  };
}

/**
 * Reads the audit log of one organization: newest first, cursor pages. There is no update
 * or delete here, nor anywhere in the API: entries are written only by writeAudit, inside
 * the transaction of the change they record.
 */
@Injectable()
export class AuditLogRepository {
  constructor(private readonly db: PrismaClient) {}

  async list(scope: { readonly orgId: string }, filter: AuditFilter, page: AuditPage): Promise<{ data: AuditEntryView[]; has_more: boolean; next_cursor: string | null }> {
    const createdAt = filter.since || filter.until ? { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lt: filter.until } : {}) } : undefined;
    const rows = await this.db.auditLog.findMany({
      where: {
        orgId: scope.orgId,
        // "api_key.create" matches that action; "api_key" every action on API keys.
        ...(filter.action ? (filter.action.includes('.') ? { action: filter.action } : { action: { startsWith: `${filter.action}.` } }) : {}),
        ...(filter.actorId ? { actorId: filter.actorId } : {}),
        ...(filter.targetId ? { targetId: filter.targetId } : {}),
        ...(createdAt ? { createdAt } : {}),
        ...(page.after ? { id: { lt: page.after } } : {}),
      },
      orderBy: { id: 'desc' },
      take: page.limit + 1,
      select: { id: true, action: true, actorType: true, actorId: true, targetType: true, targetId: true, ip: true, changes: true, createdAt: true },
    });
    const has_more = rows.length > page.limit;
    const data = rows.slice(0, page.limit).map(toAuditEntryView);
    return { data, has_more, next_cursor: has_more ? (data.at(-1)?.id ?? null) : null };
  }
}

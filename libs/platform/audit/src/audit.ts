import { uuidv7 } from '#infra/db';

/** One state-changing management action, as the audit log records it. */
export interface AuditEntry {
  orgId: string;
  actorType: 'user' | 'api_key';
  actorId: string;
  /** "<object>.<verb>", e.g. "api_key.create", "member.update". */
  action: string;
  targetType: string;
  targetId: string | null;
  ip: string | null;
  /** The fields that changed: { before?, after? }. Never secrets. */
  changes?: { before?: Record<string, unknown>; after?: Record<string, unknown> } | null;
}

/** The slice of a Prisma transaction client the audit writer needs. */
export interface AuditTx {
  auditLog: {
    create(args: {
      data: {
        id: string;
        orgId: string;
        actorType: string;
        actorId: string;
        action: string;
        targetType: string;
        targetId: string | null;
        ip: string | null;
        changes?: object;
      };
    }): Promise<unknown>;
  };
}

/**
 * Writes an audit entry with the caller's transaction client, so the entry and the
 * change commit (or roll back) together. Returns the entry's id.
 */
export async function writeAudit(tx: AuditTx, entry: AuditEntry): Promise<string> {
  const id = uuidv7();
  await tx.auditLog.create({
    data: {
      id,
      orgId: entry.orgId,
      actorType: entry.actorType,
      actorId: entry.actorId,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      ip: entry.ip,
      ...(entry.changes ? { changes: entry.changes } : {}),
    },
  });
  return id;
}

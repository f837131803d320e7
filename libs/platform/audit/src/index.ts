// Audit log: append-only record of management actions, written in the changing transaction.
export { writeAudit, type AuditEntry, type AuditTx } from './audit.js';
export { parseAuditQuery, auditQuery, type AuditFilter, type AuditPage, type AuditQueryInput } from './audit-query.js';
export { AuditLogRepository, toAuditEntryView, type AuditRecord, type AuditEntryView } from './audit-log.repository.js';
export { AuditModule } from './audit.module.js';

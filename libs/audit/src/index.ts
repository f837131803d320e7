// Audit log: append-only record of management actions, written in the changing transaction.
export { writeAudit, type AuditEntry, type AuditTx } from './audit.js';

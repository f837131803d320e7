import type { Prisma } from '#infra/db';
import type { UsageEventInput } from './usage-event.js';

/**
 * Injection token (optional): a writer that appends rows derived from usage events in the
 * SAME transaction as the ledger rows (a transactional outbox, e.g. Stripe meter events).
 * Its rows must be keyed by the usage event id so that a redelivered batch adds nothing.
 */
export const USAGE_OUTBOX = Symbol('USAGE_OUTBOX');

export interface UsageOutbox {
  append(tx: Prisma.TransactionClient, usage: readonly UsageEventInput[]): Promise<void>;
}

import type { PrismaClient } from '#infra/db';
import { generateSecret } from './signature.js';

/**
 * One signing secret per organization (as Replicate and the issue have it): a prediction's own
 * `webhook` URL is registered nowhere, so it needs an organization-wide secret anyway, and one
 * secret means one verifier configuration for every receiver of the organization.
 */
export interface SecretRow {
  orgId: string;
  secret: string;
  previous: string | null;
  previousUntil: Date | null;
  createdAt: Date;
  rotatedAt: Date;
}

/** The secrets that sign at `now`: the current one, and the previous one during the overlap. */
export function signingSecrets(row: Pick<SecretRow, 'secret' | 'previous' | 'previousUntil'>, now: Date): string[] {
  return row.previous && row.previousUntil && row.previousUntil.getTime() > now.getTime() ? [row.secret, row.previous] : [row.secret];
}

/** The organization's secret, created on first use; `created` says whether this call made it. */
export async function ensureSecret(db: PrismaClient, orgId: string): Promise<{ row: SecretRow; created: boolean }> {
  const secret = generateSecret();
  const { count } = await db.webhookSecret.createMany({ data: [{ orgId, secret }], skipDuplicates: true });
  const row = await db.webhookSecret.findUniqueOrThrow({ where: { orgId } });
  return { row, created: count === 1 };
}

/** A new current secret; the old one keeps signing (second signature) for `overlapSeconds`. */
export async function rotateSecret(db: PrismaClient, orgId: string, overlapSeconds: number, now = new Date()): Promise<SecretRow> {
  const { row, created } = await ensureSecret(db, orgId);
  if (created) return row;
  return db.webhookSecret.update({
    where: { orgId },
    data: { secret: generateSecret(), previous: row.secret, previousUntil: new Date(now.getTime() + overlapSeconds * 1000), rotatedAt: now },
  });
}

// Test fixtures written straight to the database: organizations and API keys (the
// management API has its own suites; these set up the tenants other suites need).
import { digestApiKey, generateApiKey, type KeyMode } from '#platform/api-keys';
import { uuidv7, type PrismaClient } from '#infra/db';

export interface InsertedKey {
  id: string;
  secret: string;
  digest: string;
}

/** An API key of `orgId`, hashed with the suite's pepper; returns its secret once, as the API would. */
export async function insertApiKey(
  prisma: PrismaClient,
  pepper: string,
  orgId: string,
  opts: { mode?: KeyMode; scopes?: string[]; name?: string; expiresAt?: Date; revokedAt?: Date } = {},
): Promise<InsertedKey> {
  const mode = opts.mode ?? 'live';
  const scopes = opts.scopes ?? ['predict'];
  const k = generateApiKey(mode);
  const id = uuidv7();
  const digest = digestApiKey(k.secret, pepper);
  await prisma.apiKey.create({
    data: { id, orgId, name: opts.name ?? scopes.join('+'), mode, displayPrefix: k.displayPrefix, digest, scopes, expiresAt: opts.expiresAt ?? null, revokedAt: opts.revokedAt ?? null },
  });
  return { id, secret: k.secret, digest };
}

/** Another organization on a plan (default "free"), for cross-tenant checks. */
export async function insertOrg(prisma: PrismaClient, slug: string, name = slug, planKey = 'free'): Promise<{ id: string; planId: string }> {
  const plan = await prisma.plan.findUniqueOrThrow({ where: { key: planKey } });
  return prisma.organization.create({ data: { id: uuidv7(), slug, name, planId: plan.id }, select: { id: true, planId: true } });
}

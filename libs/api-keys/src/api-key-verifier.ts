import { Injectable } from '@nestjs/common';
import { AppConfig } from '#libs/config';
import { PrismaClient } from '#libs/db';
import { ProblemError } from '#libs/errors';
import { digestApiKey, parseApiKey, type KeyMode } from './key-format.js';
import { TtlCache } from './ttl-cache.js';

/** Who is calling: everything the hot path needs, resolved from the key. */
export interface AuthenticatedKey {
  keyId: string;
  orgId: string;
  mode: KeyMode;
  scopes: string[];
  expiresAt: number | null;
  /** BullMQ priority from the organization's plan. */
  queuePriority: number;
  rateLimitPerMinute: number;
}

const NEGATIVE_TTL_MS = 2_000;

export function unauthenticated(): ProblemError {
  // One answer for missing, malformed, unknown, revoked and expired keys.
  return new ProblemError('unauthenticated', 'Send a valid API key as "Authorization: Bearer sk_live_…" or "sk_test_…".', {
    headers: { 'www-authenticate': 'Bearer realm="stratum"' },
  });
}

/** Extracts the bearer token; null when absent or not a Bearer credential. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  return m ? m[1]! : null;
}

/**
 * Verifies API keys: digest (HMAC with the pepper) → in-process cache → Postgres.
 * Unknown keys are cached too (briefly), so a flood of bad keys does not reach Postgres.
 */
@Injectable()
export class ApiKeyVerifier {
  private readonly cache = new TtlCache<AuthenticatedKey | null>(50_000);

  constructor(
    private readonly config: AppConfig,
    private readonly db: PrismaClient,
  ) {}

  async verify(secret: string | null): Promise<AuthenticatedKey> {
    if (secret === null || parseApiKey(secret) === null) throw unauthenticated();
    const digest = digestApiKey(secret, this.config.env.API_KEY_PEPPER);
    const cached = this.cache.get(digest);
    const key = cached ? cached.value : await this.load(digest);
    if (key === null) throw unauthenticated();
    if (key.expiresAt !== null && key.expiresAt <= Date.now()) throw unauthenticated();
    return key;
  }

  /** Forget a key at once (revocation on this instance). */
  invalidate(digest: string): void {
    this.cache.delete(digest);
  }

  private async load(digest: string): Promise<AuthenticatedKey | null> {
    const row = await this.db.apiKey.findUnique({
      where: { digest },
      select: {
        id: true,
        orgId: true,
        mode: true,
        scopes: true,
        expiresAt: true,
        revokedAt: true,
        rateLimitPerMinute: true,
        org: { select: { plan: { select: { queuePriority: true, rateLimitPerMinute: true } } } },
      },
    });
    const key: AuthenticatedKey | null =
      row && row.revokedAt === null
        ? {
            keyId: row.id,
            orgId: row.orgId,
            mode: row.mode,
            scopes: row.scopes,
            expiresAt: row.expiresAt?.getTime() ?? null,
            queuePriority: row.org.plan.queuePriority,
            rateLimitPerMinute: Math.min(row.rateLimitPerMinute ?? Infinity, row.org.plan.rateLimitPerMinute),
          }
        : null;
    this.cache.set(digest, key, key ? this.config.env.API_KEY_CACHE_TTL_MS : NEGATIVE_TTL_MS);
    return key;
  }
}

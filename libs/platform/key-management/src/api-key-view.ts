import type { KeyMode } from '#platform/api-keys';

/** The stored key as management reads it (never the digest outside the repository). */
export interface ApiKeyRecord {
  id: string;
  orgId: string;
  name: string;
  mode: KeyMode;
  displayPrefix: string;
  scopes: string[];
  rateLimitPerMinute: number | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  rolledToId: string | null;
  createdById: string | null;
  createdAt: Date;
}

export type ApiKeyStatus = 'active' | 'expired' | 'revoked' | 'rolled';

/** Who created a key: a dashboard user, or another API key (automation). */
export interface CreatedBy {
  type: 'user' | 'api_key';
  id: string;
}

/** The public API-key object (snake_case). Never carries the digest; the secret only at creation. */
export interface ApiKeyView {
  id: string;
  object: 'api_key';
  name: string;
  mode: KeyMode;
  livemode: boolean;
  display_prefix: string;
  scopes: string[];
  rate_limit_per_minute: number | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  rolled_to: string | null;
  created_by: CreatedBy | null;
  created_at: string;
  status: ApiKeyStatus;
}

/** The view returned once, by create and roll: the key plus its secret. */
export type ApiKeyWithSecret = ApiKeyView & { secret: string };

/**
 * A revoked key is 'revoked'; one past its expiry (a rolled key after its grace period
 * included) is 'expired'; a rolled key still in its grace period is 'rolled'.
 */
export function apiKeyStatus(k: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt' | 'rolledToId'>, now: number): ApiKeyStatus {
  if (k.revokedAt !== null) return 'revoked';
  if (k.expiresAt !== null && k.expiresAt.getTime() <= now) return 'expired';
  if (k.rolledToId !== null) return 'rolled';
  return 'active';
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function toApiKeyView(k: ApiKeyRecord, createdBy: CreatedBy | null, now: number = Date.now()): ApiKeyView {
  return {
    id: k.id,
    object: 'api_key',
    name: k.name,
    mode: k.mode,
    livemode: k.mode === 'live',
    display_prefix: k.displayPrefix,
    scopes: [...k.scopes],
    rate_limit_per_minute: k.rateLimitPerMinute,
    expires_at: iso(k.expiresAt),
    last_used_at: iso(k.lastUsedAt),
    revoked_at: iso(k.revokedAt),
    rolled_to: k.rolledToId,
    created_by: createdBy,
    created_at: k.createdAt.toISOString(),
    status: apiKeyStatus(k, now),
  };
}

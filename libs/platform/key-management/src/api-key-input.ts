import { z } from 'zod';
import { ProblemError } from '#infra/errors';
import { API_KEY_SCOPES, type ApiKeyScope, type KeyMode } from '#platform/api-keys';
import { parseOrProblem } from './validation.js';

/** The longest grace period of a roll: 7 days. */
export const MAX_ROLL_GRACE_SECONDS = 7 * 24 * 3600;
export const DEFAULT_ROLL_GRACE_SECONDS = 24 * 3600;
export const MAX_KEY_NAME_LENGTH = 100;
export const MAX_RATE_LIMIT_PER_MINUTE = 1_000_000;

const name = z.string().trim().min(1, 'must not be empty').max(MAX_KEY_NAME_LENGTH);
const scopes = z
  .array(z.enum(API_KEY_SCOPES))
  .min(1, 'at least one scope')
  .max(API_KEY_SCOPES.length)
  .refine((s) => new Set(s).size === s.length, 'scopes must not repeat');
const rateLimit = z.number().int().positive().max(MAX_RATE_LIMIT_PER_MINUTE);

/** An ISO 8601 date-time in the future (checked against `now()` at parse time). */
function futureDate(now: () => number) {
  return z.iso
    .datetime({ offset: true })
    .transform((s) => new Date(s))
    .refine((d) => d.getTime() > now(), 'must be in the future');
}

export interface CreateApiKeyInput {
  name: string;
  mode: KeyMode;
  scopes: ApiKeyScope[];
  expiresAt: Date | null;
  rateLimitPerMinute: number | null;
}

export interface UpdateApiKeyInput {
  name?: string;
  scopes?: ApiKeyScope[];
  /** null removes the expiry. */
  expiresAt?: Date | null;
  /** null removes the override (the plan's limit applies). */
  rateLimitPerMinute?: number | null;
}

export function parseCreateApiKey(body: unknown, now: () => number = Date.now): CreateApiKeyInput {
  const schema = z.strictObject({
    name,
    mode: z.enum(['live', 'test']).default('live'),
    scopes: scopes.default(['predict']),
    expires_at: futureDate(now).optional(),
    rate_limit_per_minute: rateLimit.optional(),
  });
  const b = parseOrProblem(schema, body, 'request body');
  return { name: b.name, mode: b.mode, scopes: b.scopes, expiresAt: b.expires_at ?? null, rateLimitPerMinute: b.rate_limit_per_minute ?? null };
}

export function parseUpdateApiKey(body: unknown, now: () => number = Date.now): UpdateApiKeyInput {
  const schema = z.strictObject({
    name: name.optional(),
    scopes: scopes.optional(),
    expires_at: futureDate(now).nullable().optional(),
    rate_limit_per_minute: rateLimit.nullable().optional(),
  });
  const b = parseOrProblem(schema, body, 'request body');
  const out: UpdateApiKeyInput = {};
  if (b.name !== undefined) out.name = b.name;
  if (b.scopes !== undefined) out.scopes = b.scopes;
  if (b.expires_at !== undefined) out.expiresAt = b.expires_at;
  if (b.rate_limit_per_minute !== undefined) out.rateLimitPerMinute = b.rate_limit_per_minute;
  if (Object.keys(out).length === 0) {
    throw new ProblemError('validation_failed', 'Nothing to update: send at least one of name, scopes, expires_at, rate_limit_per_minute.', {
      extensions: { errors: [{ path: '', message: 'at least one field' }] },
    });
  }
  return out;
}

/** The roll body is optional: no body (or {}) means the default grace period. */
export function parseRollApiKey(body: unknown): { graceSeconds: number } {
  if (body === undefined || body === null) return { graceSeconds: DEFAULT_ROLL_GRACE_SECONDS };
  const schema = z.strictObject({ grace_period_seconds: z.number().int().min(0).max(MAX_ROLL_GRACE_SECONDS).default(DEFAULT_ROLL_GRACE_SECONDS) });
  return { graceSeconds: parseOrProblem(schema, body, 'request body').grace_period_seconds };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export interface PageQuery {
  limit: number;
  after?: string;
}

/** `limit` (1-100, default 20) and `starting_after` (an id of the previous page): 400 when malformed, as on /v1/predictions. */
export function parsePage(limit: string | undefined, startingAfter: string | undefined): PageQuery {
  const n = limit === undefined ? 20 : Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new ProblemError('bad_request', 'limit must be an integer from 1 to 100.');
  if (startingAfter !== undefined && !isUuid(startingAfter)) throw new ProblemError('bad_request', 'starting_after must be an id from the previous page.');
  return { limit: n, ...(startingAfter !== undefined ? { after: startingAfter.toLowerCase() } : {}) };
}

export interface ApiKeyListFilter {
  mode?: KeyMode;
  includeRevoked: boolean;
}

export function parseApiKeyListFilter(query: { mode?: string | undefined; include_revoked?: string | undefined }): ApiKeyListFilter {
  const errors: { path: string; message: string }[] = [];
  if (query.mode !== undefined && query.mode !== 'live' && query.mode !== 'test') errors.push({ path: '/mode', message: 'must be "live" or "test"' });
  if (query.include_revoked !== undefined && query.include_revoked !== 'true' && query.include_revoked !== 'false') {
    errors.push({ path: '/include_revoked', message: 'must be "true" or "false"' });
  }
  if (errors.length) throw new ProblemError('validation_failed', 'The query failed validation.', { extensions: { errors } });
  return { ...(query.mode ? { mode: query.mode as KeyMode } : {}), includeRevoked: query.include_revoked === 'true' };
}

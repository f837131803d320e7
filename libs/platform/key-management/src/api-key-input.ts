import { z } from 'zod';
import { PAGE_QUERY, ProblemError, parseQuery, toPage } from '#infra/errors';
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

/** The body of POST /v1/orgs/{org}/api-keys (also its OpenAPI schema). */
export function createApiKeyBody(now: () => number = Date.now) {
  return z.strictObject({
    name,
    mode: z.enum(['live', 'test']).default('live'),
    scopes: scopes.default(['predict']),
    expires_at: futureDate(now).optional().describe('In the future'),
    rate_limit_per_minute: rateLimit.optional().describe("Lower than the plan's limit to take effect"),
  });
}

/** The body of PATCH /v1/orgs/{org}/api-keys/{id}: `null` removes the expiry or the rate-limit override. */
export function updateApiKeyBody(now: () => number = Date.now) {
  return z.strictObject({
    name: name.optional(),
    scopes: scopes.optional(),
    expires_at: futureDate(now).nullable().optional().describe('In the future; null removes the expiry'),
    rate_limit_per_minute: rateLimit.nullable().optional().describe('null removes the override'),
  });
}

/** The (optional) body of POST /v1/orgs/{org}/api-keys/{id}/roll. */
export const rollApiKeyBody = z.strictObject({
  grace_period_seconds: z.number().int().min(0).max(MAX_ROLL_GRACE_SECONDS).default(DEFAULT_ROLL_GRACE_SECONDS).describe('How long the old secret keeps working'),
});

export function parseCreateApiKey(body: unknown, now: () => number = Date.now): CreateApiKeyInput {
  const b = parseOrProblem(createApiKeyBody(now), body);
  return { name: b.name, mode: b.mode, scopes: b.scopes, expiresAt: b.expires_at ?? null, rateLimitPerMinute: b.rate_limit_per_minute ?? null };
}

export function parseUpdateApiKey(body: unknown, now: () => number = Date.now): UpdateApiKeyInput {
  const b = parseOrProblem(updateApiKeyBody(now), body);
  const out: UpdateApiKeyInput = {};
  if (b.name !== undefined) out.name = b.name;
  if (b.scopes !== undefined) out.scopes = b.scopes;
  if (b.expires_at !== undefined) out.expiresAt = b.expires_at;
  if (b.rate_limit_per_minute !== undefined) out.rateLimitPerMinute = b.rate_limit_per_minute;
  if (Object.keys(out).length === 0) {
    throw new ProblemError('validation_failed', 'Nothing to update: send at least one of name, scopes, expires_at, rate_limit_per_minute.', {
      extensions: { errors: [{ path: '', message: 'must have at least one field' }] },
    });
  }
  return out;
}

/** The roll body is optional: no body (or {}) means the default grace period. */
export function parseRollApiKey(body: unknown): { graceSeconds: number } {
  if (body === undefined || body === null) return { graceSeconds: DEFAULT_ROLL_GRACE_SECONDS };
  return { graceSeconds: parseOrProblem(rollApiKeyBody, body).grace_period_seconds };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export interface PageQuery {
  limit: number;
  after?: string;
}

export interface ApiKeyListFilter {
  mode?: KeyMode;
  includeRevoked: boolean;
}

/** The query of GET /v1/orgs/{org}/api-keys (also its OpenAPI parameters). */
export const apiKeyListQuery = z.object({
  ...PAGE_QUERY,
  mode: z.enum(['live', 'test']).optional(),
  include_revoked: z.enum(['true', 'false']).optional().describe('Revoked keys are listed only with true'),
});

/** Parses the key list's query: 422 validation_failed naming every bad parameter. */
export function parseApiKeyListQuery(query: unknown): { filter: ApiKeyListFilter; page: PageQuery } {
  const q = parseQuery(apiKeyListQuery, query);
  return { filter: { ...(q.mode ? { mode: q.mode } : {}), includeRevoked: q.include_revoked === 'true' }, page: toPage(q) };
}

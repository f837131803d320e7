import { z } from 'zod';
import { PAGE_QUERY, parseQuery, toPage, validationProblem } from '#infra/errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** ISO 8601: a date, or a date-time with seconds, optional fraction and a zone. */
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const ACTION = /^[a-z_]{1,40}(\.[a-z_]{1,40})?$/;

/** Filters of the audit-log listing. `since` is inclusive, `until` exclusive. */
export interface AuditFilter {
  action?: string;
  actorId?: string;
  targetId?: string;
  since?: Date;
  until?: Date;
}

export interface AuditPage {
  limit: number;
  after?: string;
}

export interface AuditQueryInput {
  action?: string | undefined;
  actor_id?: string | undefined;
  target_id?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit?: string | undefined;
  starting_after?: string | undefined;
}

const date = z
  .string()
  .regex(ISO, 'must be an ISO 8601 date or date-time, e.g. 2026-11-27T08:00:00Z')
  .transform((v) => new Date(v))
  .refine((d) => !Number.isNaN(d.getTime()), 'must be an ISO 8601 date or date-time, e.g. 2026-11-27T08:00:00Z');

/** The query of GET /v1/orgs/{org}/audit-log (also its OpenAPI parameters). */
export const auditQuery = z.object({
  ...PAGE_QUERY,
  action: z.string().regex(ACTION, 'must look like "api_key.create" (or an object name like "api_key")').optional().describe('e.g. `api_key.create`, or `api_key` for every action on keys'),
  actor_id: z.string().regex(UUID, 'must be a user or API key id').optional().describe('A user or API key id'),
  target_id: z.string().min(1).max(100).optional().describe('The id of the object acted on'),
  since: date.optional().describe('ISO 8601, inclusive'),
  until: date.optional().describe('ISO 8601, exclusive'),
});

/**
 * Parses the query of GET /v1/orgs/{org}/audit-log: 422 validation_failed naming every bad
 * parameter (the filters and the cursor parameters alike, as on every list).
 */
export function parseAuditQuery(query: unknown): { filter: AuditFilter; page: AuditPage } {
  const q = parseQuery(auditQuery, query);
  if (q.since && q.until && q.since >= q.until) throw validationProblem('query', [{ path: '/until', message: 'must be after since' }]);
  const filter: AuditFilter = {};
  if (q.action !== undefined) filter.action = q.action;
  if (q.actor_id !== undefined) filter.actorId = q.actor_id.toLowerCase();
  if (q.target_id !== undefined) filter.targetId = q.target_id;
  if (q.since) filter.since = q.since;
  if (q.until) filter.until = q.until;
  return { filter, page: toPage(q) };
}

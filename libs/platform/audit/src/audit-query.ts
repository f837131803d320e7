import { ProblemError } from '#infra/errors';

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

function date(value: string): Date | null {
  if (!ISO.test(value)) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * Parses the query of GET /v1/orgs/{org}/audit-log. Bad filters are 422 validation_failed
 * (every failing parameter named); a bad `limit`/`starting_after` is 400, as on every list.
 */
export function parseAuditQuery(q: AuditQueryInput): { filter: AuditFilter; page: AuditPage } {
  const n = q.limit === undefined ? 20 : Number(q.limit);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new ProblemError('bad_request', 'limit must be an integer from 1 to 100.');
  if (q.starting_after !== undefined && !UUID.test(q.starting_after)) throw new ProblemError('bad_request', 'starting_after must be an entry id from the previous page.');

  const errors: { path: string; message: string }[] = [];
  const filter: AuditFilter = {};
  if (q.action !== undefined) {
    if (ACTION.test(q.action)) filter.action = q.action;
    else errors.push({ path: '/action', message: 'must look like "api_key.create" (or an object name like "api_key")' });
  }
  if (q.actor_id !== undefined) {
    if (UUID.test(q.actor_id)) filter.actorId = q.actor_id.toLowerCase();
    else errors.push({ path: '/actor_id', message: 'must be a user or API key id' });
  }
  if (q.target_id !== undefined) {
    if (q.target_id.length > 0 && q.target_id.length <= 100) filter.targetId = q.target_id;
    else errors.push({ path: '/target_id', message: 'must be 1-100 characters' });
  }
  for (const field of ['since', 'until'] as const) {
    const raw = q[field];
    if (raw === undefined) continue;
    const d = date(raw);
    if (d) filter[field] = d;
    else errors.push({ path: `/${field}`, message: 'must be an ISO 8601 date or date-time, e.g. 2026-11-27T08:00:00Z' });
  }
  if (filter.since && filter.until && filter.since >= filter.until) errors.push({ path: '/until', message: 'must be after since' });
  if (errors.length) throw new ProblemError('validation_failed', 'The query failed validation.', { extensions: { errors } });
  return { filter, page: { limit: n, ...(q.starting_after !== undefined ? { after: q.starting_after.toLowerCase() } : {}) } };
}

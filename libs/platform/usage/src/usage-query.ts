import { z } from 'zod';
import { parseQuery, validationProblem } from '#infra/errors';
import { BUCKET_MS, isTimeZone, nextZonedPeriodStart, zonedPeriodStart, type Granularity } from '#platform/pricing';

export const USAGE_DIMENSIONS = ['feature', 'key', 'model', 'mode'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const DATE_MSG = 'must be an ISO 8601 date or date-time, e.g. 2026-11-27T08:00:00Z';
const date = z
  .string()
  .regex(ISO, DATE_MSG)
  .transform((v) => new Date(v))
  .refine((d) => !Number.isNaN(d.getTime()), DATE_MSG);

/** Longest range per granularity (bounds the rows an answer can have). */
export const MAX_RANGE_DAYS: Record<Granularity, number> = { hour: 32, day: 400, month: 3700 };

/** The query of GET /v1/orgs/{org}/usage (also its OpenAPI parameters). */
export const usageQuery = z.object({
  from: date.optional().describe('ISO 8601, inclusive (moved back to its 15-minute boundary: usage is kept in 15-minute buckets; the answer’s from says where it starts); default: the start of the current month in `time_zone`'),
  to: date.optional().describe('ISO 8601, exclusive (moved forward to a 15-minute boundary; the answer’s to says where it ends); default: the start of the next month in `time_zone`'),
  granularity: z.enum(['hour', 'day', 'month']).default('day').describe('hour, day (default) or month, in `time_zone`'),
  time_zone: z
    .string()
    .refine((v) => isTimeZone(v), 'must be an IANA time zone such as Europe/Paris or UTC')
    .default('UTC')
    .describe('IANA time zone of the day and month boundaries (default UTC)'),
  group_by: z
    .string()
    .regex(/^[a-z]+(,[a-z]+)*$/, `must be a comma-separated list of ${USAGE_DIMENSIONS.join(', ')}`)
    .refine((v) => v.split(',').every((d) => (USAGE_DIMENSIONS as readonly string[]).includes(d)), `must be a comma-separated list of ${USAGE_DIMENSIONS.join(', ')}`)
    .optional()
    .describe('Comma-separated: feature, key, model, mode'),
  feature: z.string().min(1).max(100).optional().describe('Only this feature'),
  key: z.string().regex(UUID, 'must be an API key id').optional().describe('Only this API key (id)'),
  model: z.string().min(1).max(400).optional().describe('Only this model dimension ("name@version", several joined by "+")'),
  mode: z.enum(['live', 'test']).optional().describe('Only live or test usage'),
});

export interface UsageRequest {
  from: Date;
  to: Date;
  granularity: Granularity;
  timeZone: string;
  groupBy: UsageDimension[];
  filter: { feature?: string; apiKeyId?: string; model?: string; mode?: 'live' | 'test' };
}

/** Parses and checks the usage query: 422 validation_failed naming each bad parameter. */
export function parseUsageQuery(query: unknown, now = new Date()): UsageRequest {
  const q = parseQuery(usageQuery, query);
  // Usage is kept in 15-minute buckets: the range widens to whole buckets (the answer echoes it).
  const from = new Date(Math.floor((q.from ?? zonedPeriodStart(now, 'month', q.time_zone)).getTime() / BUCKET_MS) * BUCKET_MS);
  const to = new Date(Math.ceil((q.to ?? nextZonedPeriodStart(zonedPeriodStart(now, 'month', q.time_zone), 'month', q.time_zone)).getTime() / BUCKET_MS) * BUCKET_MS);
  const errors: { path: string; message: string }[] = [];
  if (from >= to) errors.push({ path: '/to', message: 'must be after from' });
  else if (to.getTime() - from.getTime() > MAX_RANGE_DAYS[q.granularity] * 86_400_000) errors.push({ path: '/to', message: `must be at most ${MAX_RANGE_DAYS[q.granularity]} days after from with granularity ${q.granularity}` });
  if (errors.length) throw validationProblem('query', errors);
  const groupBy = q.group_by ? USAGE_DIMENSIONS.filter((d) => q.group_by!.split(',').includes(d)) : [];
  const filter: UsageRequest['filter'] = {};
  if (q.feature !== undefined) filter.feature = q.feature;
  if (q.key !== undefined) filter.apiKeyId = q.key.toLowerCase();
  if (q.model !== undefined) filter.model = q.model;
  if (q.mode !== undefined) filter.mode = q.mode;
  return { from, to, granularity: q.granularity, timeZone: q.time_zone, groupBy, filter };
}

import { z } from 'zod';

/** The query of GET /v1/orgs/{org}/stats. */
export const statsQuery = z.object({
  mode: z.enum(['live', 'test']).default('live').describe('Live (billed) or test traffic; default live'),
  window_hours: z.coerce.number().int().min(1).max(720).default(24).describe('How far back the prediction counts, error rate and latency look (1-720 hours, default 24)'),
});

export interface StatsRow {
  total: number;
  succeeded: number;
  failed: number;
  canceled: number;
  pending: number;
  p50: number | null;
  p95: number | null;
}

export interface StatsView {
  object: 'stats';
  mode: 'live' | 'test';
  window: { start: string; end: string };
  predictions: { total: number; succeeded: number; failed: number; canceled: number; pending: number; error_rate: number | null };
  latency_ms: { p50: number | null; p95: number | null };
  rate_limit: { per_minute: number; burst: number; peak_per_minute: number; headroom_per_minute: number; max_concurrent: number; in_flight: number };
  quota: { period: { start: string; end: string }; included_units: number | null; used_units: number; overage: string };
}

/**
 * Traffic figures as the dashboard's overview shows them. Pure.
 * - error rate: failed / finished (succeeded + failed); canceled predictions are the client's
 *   choice, not errors; null when nothing finished;
 * - latency: from creation to completion of succeeded predictions (queue + inference, what a
 *   caller waits), rounded to whole milliseconds;
 * - rate-limit headroom: the plan's per-minute rate minus the busiest minute of prediction
 *   submissions in the last hour (never below 0). Reads count against the limit too, so this
 *   is the headroom for predictions at that pace.
 */
export function statsView(input: {
  mode: 'live' | 'test';
  window: { start: Date; end: Date };
  row: StatsRow;
  peakPerMinute: number;
  plan: { rateLimitPerMinute: number; rateLimitBurst: number; maxConcurrentPredictions: number };
  quota: { period: { start: Date; end: Date }; limit: number | null; overage: string; used: number };
}): StatsView {
  const { row } = input;
  const finished = row.succeeded + row.failed;
  const ms = (v: number | null): number | null => (v === null ? null : Math.round(v));
  return {
    object: 'stats',
    mode: input.mode,
    window: { start: input.window.start.toISOString(), end: input.window.end.toISOString() },
    predictions: { total: row.total, succeeded: row.succeeded, failed: row.failed, canceled: row.canceled, pending: row.pending, error_rate: finished === 0 ? null : row.failed / finished },
    latency_ms: { p50: ms(row.p50), p95: ms(row.p95) },
    rate_limit: {
      per_minute: input.plan.rateLimitPerMinute,
      burst: input.plan.rateLimitBurst,
      peak_per_minute: input.peakPerMinute,
      headroom_per_minute: Math.max(0, input.plan.rateLimitPerMinute - input.peakPerMinute),
      max_concurrent: input.plan.maxConcurrentPredictions,
      in_flight: row.pending,
    },
    quota: { period: { start: input.quota.period.start.toISOString(), end: input.quota.period.end.toISOString() }, included_units: input.quota.limit, used_units: input.quota.used, overage: input.quota.overage },
  };
}

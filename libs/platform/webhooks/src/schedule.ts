/**
 * The retry schedule: the delay before each retry, written as durations ("5s,5m,30m,2h").
 * Its length is the number of retries, so a message gets at most schedule.length + 1 attempts.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

export function parseSchedule(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(ms|s|m|h)$/.exec(part);
    if (!m) throw new Error(`"${part}" is not a duration such as 500ms, 5s, 5m or 2h`);
    out.push(Number(m[1]) * UNIT_MS[m[2]!]!);
  }
  return out;
}

/** A receiver's Retry-After (delta-seconds or an HTTP date) in ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (value === undefined || value === null) return null;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1_000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** Longest a receiver's Retry-After may push a retry back. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
export const JITTER = 0.1;

/**
 * When to try again after the `attempt`-th failed attempt of a run (1-based), or null when the
 * schedule is exhausted. The delay is the schedule's, ±10 % jitter (`random` in [0, 1)), and
 * never shorter than the receiver's Retry-After (capped at 24 h).
 */
export function nextRetryDelay(schedule: readonly number[], attempt: number, retryAfterMs: number | null, random: number): number | null {
  const base = schedule[attempt - 1];
  if (base === undefined) return null;
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random));
  const floor = retryAfterMs === null ? 0 : Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  return Math.max(jittered, floor);
}

/** What one attempt's answer means for its message. */
export type AttemptVerdict = 'delivered' | 'gone' | 'retry';

export function verdictOf(status: number | null): AttemptVerdict {
  if (status !== null && status >= 200 && status < 300) return 'delivered';
  if (status === 410) return 'gone';
  return 'retry';
}

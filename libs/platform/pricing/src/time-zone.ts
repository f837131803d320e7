/**
 * Calendar periods in an IANA time zone, as UTC instants (pure; Intl's time zone data). The
 * usage API buckets days and months in the caller's zone; the database does the same with
 * `AT TIME ZONE` (its own zone data), these give the defaults and are the tested reference.
 */
export type Granularity = 'hour' | 'day' | 'month';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(tz, f);
  }
  return f;
}

/** Whether `tz` is an IANA time zone name this runtime knows ("UTC" included). */
export function isTimeZone(tz: unknown): tz is string {
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64) return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time at `t` in `tz`, as if it were UTC (ms). */
function wall(t: number, tz: string): number {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day, p.hour, p.minute, p.second) + (t % 1000 + 1000) % 1000;
}

/** The instant whose wall-clock time in `tz` is `local` (a time skipped by a DST jump maps past the jump). */
function instantOf(local: number, tz: string): number {
  let t = local - (wall(local, tz) - local);
  t = local - (wall(t, tz) - t);
  if (wall(t, tz) < local) t = local - (wall(t + 3_600_000, tz) - (t + 3_600_000)); // inside a spring-forward gap
  return t;
}

function truncate(local: number, g: Granularity): number {
  const d = new Date(local);
  if (g === 'hour') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours());
  if (g === 'day') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function advance(local: number, g: Granularity): number {
  const d = new Date(local);
  if (g === 'hour') return local + 3_600_000;
  if (g === 'day') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Start (UTC instant) of the local hour, day or month of `tz` holding `at`. */
export function zonedPeriodStart(at: Date | number, g: Granularity, tz: string): Date {
  const t = new Date(at).getTime();
  if (g === 'hour') {
    // An hour is the same hour everywhere the offset is whole; else follow the wall clock.
    const local = wall(t, tz);
    return new Date(t - (local - truncate(local, 'hour')));
  }
  return new Date(instantOf(truncate(wall(t, tz), g), tz));
}

/** Start of the local period after the one starting at `start`. */
export function nextZonedPeriodStart(start: Date | number, g: Granularity, tz: string): Date {
  const t = new Date(start).getTime();
  if (g === 'hour') return new Date(t + 3_600_000);
  return new Date(instantOf(advance(truncate(wall(t, tz), g), g), tz));
}

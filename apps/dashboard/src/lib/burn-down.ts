/**
 * Quota burn-down: at the pace since the period began, when do the included units run out?
 * Pure. `included` null = unlimited (no run-out). The pace is used units per elapsed ms of the
 * period; the run-out instant is start + included / pace, reported only when it falls inside
 * the period (otherwise the quota lasts the period).
 */
export interface BurnDown {
  remaining: number | null;
  usedRatio: number | null;
  /** Units per day at the current pace. */
  perDay: number;
  /** When the quota runs out at this pace, or null (unlimited, no use yet, or not within the period). */
  runOutAt: Date | null;
  /** Already exhausted. */
  exhausted: boolean;
  /** Remaining units over time: the actual line (start → now) and the projection (now → run-out or period end). */
  series: { t: number; actual?: number; projected?: number }[];
}

export function burnDown(input: { included: number | null; used: number; start: Date; end: Date; now: Date }): BurnDown {
  const start = input.start.getTime();
  const end = input.end.getTime();
  const now = Math.min(Math.max(input.now.getTime(), start), end);
  const elapsed = Math.max(now - start, 1);
  const pace = input.used / elapsed; // units per ms
  const perDay = pace * 86_400_000;
  if (input.included === null) return { remaining: null, usedRatio: null, perDay, runOutAt: null, exhausted: false, series: [] };
  const included = input.included;
  const remaining = Math.max(0, included - input.used);
  const exhausted = input.used >= included;
  let runOutAt: Date | null = null;
  if (exhausted) runOutAt = new Date(included === 0 ? start : start + included / pace);
  else if (pace > 0) {
    const t = start + included / pace;
    if (t <= end) runOutAt = new Date(t);
  }
  const projectedEnd = runOutAt && !exhausted ? runOutAt.getTime() : end;
  const projectedAtEnd = Math.max(0, included - pace * (projectedEnd - start));
  const series = [
    { t: start, actual: included },
    { t: now, actual: remaining, projected: remaining },
    { t: projectedEnd, projected: exhausted ? 0 : projectedAtEnd },
  ];
  if (runOutAt && !exhausted && projectedEnd < end) series.push({ t: end, projected: 0 });
  return { remaining, usedRatio: included === 0 ? 1 : input.used / included, perDay, runOutAt, exhausted, series };
}

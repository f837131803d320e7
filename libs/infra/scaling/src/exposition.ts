/**
 * The autoscaler's own reading of the apps' `/metrics` (when no Prometheus server is
 * configured): the Prometheus text format parsed into samples, the per-pool sums it needs,
 * and rates and quantiles between two scrapes. Pure.
 */

export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text exposition format (comments and malformed lines skipped). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** What one target's scrape says about each pool (counters are cumulative). */
export interface PoolCounters {
  arrivals: number | null;
  finished: number;
  serviceSum: number;
  serviceCount: number;
  /** Cumulative wait histogram: upper bound (seconds) → count. */
  waitBuckets: Map<number, number>;
  busyWorkers: number;
  readyWorkers: number;
}

const emptyCounters = (): PoolCounters => ({ arrivals: null, finished: 0, serviceSum: 0, serviceCount: 0, waitBuckets: new Map(), busyWorkers: 0, readyWorkers: 0 });

/** Folds one target's samples into per-pool counters (series of every pool; no tenant label exists on these). */
export function poolCounters(samples: readonly Sample[]): Map<string, PoolCounters> {
  const pools = new Map<string, PoolCounters>();
  const of = (pool: string): PoolCounters => {
    let c = pools.get(pool);
    if (!c) pools.set(pool, (c = emptyCounters()));
    return c;
  };
  for (const s of samples) {
    const pool = s.labels['pool'];
    if (pool === undefined) continue;
    switch (s.name) {
      case 'stratum_queue_arrivals_total':
        of(pool).arrivals = (of(pool).arrivals ?? 0) + s.value;
        break;
      case 'stratum_jobs_total':
        if (s.labels['outcome'] !== 'handed_back') of(pool).finished += s.value;
        break;
      case 'stratum_job_service_seconds_sum':
        of(pool).serviceSum += s.value;
        break;
      case 'stratum_job_service_seconds_count':
        of(pool).serviceCount += s.value;
        break;
      case 'stratum_job_wait_seconds_bucket': {
        const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
        const b = of(pool).waitBuckets;
        b.set(le, (b.get(le) ?? 0) + s.value);
        break;
      }
      case 'stratum_workers_busy':
        of(pool).busyWorkers += s.value;
        break;
      case 'stratum_workers_ready':
        of(pool).readyWorkers += s.value;
        break;
      default:
    }
  }
  return pools;
}

/**
 * The q-quantile of a cumulative histogram (bucket upper bound → count), linearly
 * interpolated inside the bucket as PromQL's histogram_quantile does; null without observations.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | null {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound;
      const inBucket = count - prevCount;
      return inBucket <= 0 ? bound : prevBound + ((bound - prevBound) * (rank - prevCount)) / inBucket;
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

/** A counter's increase between two readings; a smaller reading is a restart (counted from zero). */
export function increase(before: number | undefined, after: number): number {
  if (before === undefined) return 0;
  return after >= before ? after - before : after;
}

/** The per-pool rates between two scrapes of the same target, `seconds` apart. */
export interface TargetDelta {
  arrivals: number | null;
  finished: number;
  serviceSum: number;
  serviceCount: number;
  waitBuckets: Map<number, number>;
}

export function deltaOf(before: PoolCounters | undefined, after: PoolCounters): TargetDelta {
  const waitBuckets = new Map<number, number>();
  for (const [le, v] of after.waitBuckets) waitBuckets.set(le, increase(before?.waitBuckets.get(le), v));
  return {
    arrivals: after.arrivals === null ? null : increase(before?.arrivals ?? undefined, after.arrivals),
    finished: increase(before?.finished, after.finished),
    serviceSum: increase(before?.serviceSum, after.serviceSum),
    serviceCount: increase(before?.serviceCount, after.serviceCount),
    waitBuckets,
  };
}

/** Sums the deltas of several targets (bucket by bucket). */
export function sumDeltas(deltas: readonly TargetDelta[]): TargetDelta {
  const out: TargetDelta = { arrivals: null, finished: 0, serviceSum: 0, serviceCount: 0, waitBuckets: new Map() };
  for (const d of deltas) {
    if (d.arrivals !== null) out.arrivals = (out.arrivals ?? 0) + d.arrivals;
    out.finished += d.finished;
    out.serviceSum += d.serviceSum;
    out.serviceCount += d.serviceCount;
    for (const [le, v] of d.waitBuckets) out.waitBuckets.set(le, (out.waitBuckets.get(le) ?? 0) + v);
  }
  return out;
}

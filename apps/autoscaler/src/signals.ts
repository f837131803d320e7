import type { InferenceQueues } from '#infra/queue';
import { deltaOf, histogramQuantile, parseExposition, poolCounters, sumDeltas, type PoolCounters, type PoolSignals } from '#infra/scaling';

/** What the control loop reads of one pool per tick. */
export interface PoolReading {
  signals: PoolSignals;
  /** Workers running a job of the pool, and workers taking its jobs (null: not known). */
  busyWorkers: number | null;
  readyWorkers: number | null;
}

/** Where the signals come from: a Prometheus server (PromQL) or the autoscaler's own scrape. The policy does not know which. */
export interface SignalSource {
  readonly kind: 'prometheus' | 'scrape';
  read(pools: readonly string[]): Promise<Map<string, PoolReading>>;
}

/** The wait quantile the latency term compares with the SLO. */
export const WAIT_QUANTILE = 0.9;

async function fetchText(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${url} answered ${res.status}`);
  }
  return res.text();
}

/**
 * Without a Prometheus server: the backlog from BullMQ (Redis), the rest from the apps'
 * `/metrics` (admin listeners), read every tick and differenced with the previous read of the
 * same target. Arrivals come from the gateway's counter when a target exports it; otherwise
 * they are inferred as the change of the work in hand plus the jobs finished.
 */
export class ScrapeSignals implements SignalSource {
  readonly kind = 'scrape';
  private readonly previous = new Map<string, Map<string, PoolCounters>>();
  private previousWork = new Map<string, number>();
  private previousAt: number | undefined;
  private readonly lastService = new Map<string, number>();

  constructor(
    private readonly queues: InferenceQueues,
    private readonly targets: () => readonly string[],
    private readonly now: () => number = Date.now,
  ) {}

  async read(pools: readonly string[]): Promise<Map<string, PoolReading>> {
    const at = this.now();
    const counts = new Map(await Promise.all(pools.map(async (p) => [p, await this.queues.counts(p)] as const)));
    const targets = [...new Set(this.targets())];
    const scraped = await Promise.all(
      targets.map(async (url) => {
        try {
          return [url, poolCounters(parseExposition(await fetchText(url, 2_000)))] as const;
        } catch {
          return [url, null] as const;
        }
      }),
    );
    const seconds = this.previousAt === undefined ? null : Math.max(0.001, (at - this.previousAt) / 1000);
    const out = new Map<string, PoolReading>();
    for (const pool of pools) {
      const c = counts.get(pool)!;
      const backlog = c.waiting + c.prioritized + c.delayed;
      const work = backlog + c.active;
      const deltas = [];
      let busy: number | null = null;
      let ready: number | null = null;
      for (const [url, now] of scraped) {
        const mine = now?.get(pool);
        if (!mine) continue;
        busy = (busy ?? 0) + mine.busyWorkers;
        ready = (ready ?? 0) + mine.readyWorkers;
        const before = this.previous.get(url)?.get(pool);
        if (before) deltas.push(deltaOf(before, mine));
      }
      const d = sumDeltas(deltas);
      let arrivalRate: number | null = null;
      if (seconds !== null) {
        const before = this.previousWork.get(pool);
        const arrived = d.arrivals ?? (before === undefined ? null : Math.max(0, work - before + d.finished));
        arrivalRate = arrived === null ? null : arrived / seconds;
      }
      if (d.serviceCount > 0) this.lastService.set(pool, d.serviceSum / d.serviceCount);
      out.set(pool, {
        signals: { backlog, active: c.active, arrivalRate, waitSeconds: histogramQuantile(WAIT_QUANTILE, d.waitBuckets), serviceSeconds: this.lastService.get(pool) ?? null },
        busyWorkers: busy,
        readyWorkers: ready,
      });
    }
    for (const [url, now] of scraped) if (now) this.previous.set(url, now);
    for (const url of [...this.previous.keys()]) if (!targets.includes(url)) this.previous.delete(url);
    this.previousWork = new Map(pools.map((p) => [p, counts.get(p)!.waiting + counts.get(p)!.prioritized + counts.get(p)!.delayed + counts.get(p)!.active]));
    this.previousAt = at;
    return out;
  }
}

/** The PromQL of each signal (per pool), over a rate window of `window` seconds. */
export function promQueries(windowSeconds: number): Record<'backlog' | 'active' | 'arrivals' | 'wait' | 'service' | 'busy' | 'ready', string> {
  const w = `${Math.max(1, Math.round(windowSeconds))}s`;
  return {
    // The gateway and the autoscaler both export the same Redis counts: max, not sum.
    backlog: 'sum by (pool) (max by (pool, state) (stratum_queue_jobs{state=~"waiting|prioritized|delayed"}))',
    active: 'max by (pool) (stratum_queue_jobs{state="active"})',
    arrivals: `sum by (pool) (rate(stratum_queue_arrivals_total[${w}]))`,
    wait: `histogram_quantile(${WAIT_QUANTILE}, sum by (pool, le) (rate(stratum_job_wait_seconds_bucket[${w}])))`,
    service: `sum by (pool) (rate(stratum_job_service_seconds_sum[${w}])) / sum by (pool) (rate(stratum_job_service_seconds_count[${w}]))`,
    busy: 'sum by (pool) (stratum_workers_busy)',
    ready: 'sum by (pool) (stratum_workers_ready)',
  };
}

interface PromVector {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

/** Signals from a Prometheus server: one instant query per signal (GET /api/v1/query). */
export class PrometheusSignals implements SignalSource {
  readonly kind = 'prometheus';
  private readonly queries: ReturnType<typeof promQueries>;

  constructor(
    private readonly baseUrl: string,
    windowSeconds: number,
  ) {
    this.queries = promQueries(windowSeconds);
  }

  /** One instant vector by pool; NaN (no data in the window) reads as absent. */
  async query(promql: string): Promise<Map<string, number>> {
    const url = new URL('api/v1/query', this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    url.searchParams.set('query', promql);
    const body = JSON.parse(await fetchText(url.toString(), 3_000)) as PromVector;
    if (body.status !== 'success' || !body.data) throw new Error(`prometheus: ${body.error ?? body.status}`);
    const out = new Map<string, number>();
    for (const r of body.data.result) {
      const pool = r.metric['pool'];
      const v = Number(r.value[1]);
      if (pool !== undefined && Number.isFinite(v)) out.set(pool, v);
    }
    return out;
  }

  async read(pools: readonly string[]): Promise<Map<string, PoolReading>> {
    const names = Object.keys(this.queries) as Array<keyof typeof this.queries>;
    const results = await Promise.all(names.map((n) => this.query(this.queries[n])));
    const r = Object.fromEntries(names.map((n, i) => [n, results[i]!])) as Record<keyof typeof this.queries, Map<string, number>>;
    const out = new Map<string, PoolReading>();
    for (const pool of pools) {
      out.set(pool, {
        signals: {
          backlog: r.backlog.get(pool) ?? 0,
          active: r.active.get(pool) ?? 0,
          arrivalRate: r.arrivals.get(pool) ?? null,
          waitSeconds: r.wait.get(pool) ?? null,
          serviceSeconds: r.service.get(pool) ?? null,
        },
        busyWorkers: r.busy.get(pool) ?? null,
        readyWorkers: r.ready.get(pool) ?? null,
      });
    }
    return out;
  }
}

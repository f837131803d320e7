import { Counter, Gauge } from 'prom-client';
import type { MetricsRegistry } from '#infra/metrics';
import { COUNTED_STATES, type InferenceQueues } from './inference-queues.js';

/** Exports queue depth by pool and state, read from Redis at scrape time. */
export function registerQueueDepthGauge(metrics: MetricsRegistry, queues: InferenceQueues, pools: () => readonly string[]): Gauge<'pool' | 'state'> {
  return new Gauge({
    name: 'stratum_queue_jobs',
    help: 'Jobs in each model-pool queue by state',
    labelNames: ['pool', 'state'],
    registers: [metrics.registry],
    async collect() {
      await Promise.all(
        pools().map(async (pool) => {
          try {
            const counts = await queues.counts(pool);
            for (const state of COUNTED_STATES) this.set({ pool, state }, counts[state]);
          } catch {
            // Redis unreachable: leave the last values; /readyz reports the outage.
          }
        }),
      );
    },
  });
}

/** Counts jobs added per pool (`rate()` of it is the arrival rate the autoscaler reads). */
export function registerArrivalCounter(metrics: MetricsRegistry, queues: InferenceQueues): Counter<'pool'> {
  const arrivals = new Counter({ name: 'stratum_queue_arrivals_total', help: 'Jobs added to each model-pool queue', labelNames: ['pool'], registers: [metrics.registry] });
  for (const pool of queues.pools()) arrivals.inc({ pool }, 0);
  queues.onArrival((pool) => arrivals.inc({ pool }));
  return arrivals;
}

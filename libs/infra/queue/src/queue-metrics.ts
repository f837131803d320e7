import { Gauge } from 'prom-client';
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

import { collectDefaultMetrics, Registry } from 'prom-client';
import { SeriesHistogram } from './series-histogram.js';

/**
 * One prom-client registry per process, labelled with the app's name. Libraries
 * register their own series on it; nothing here carries a tenant label (cardinality).
 */
export class MetricsRegistry {
  readonly registry = new Registry();
  /** Observed by createHttpApp's per-route hooks (each keeps its series). */
  readonly httpDuration: SeriesHistogram<'method' | 'route' | 'status'>;

  constructor(readonly app: string) {
    this.registry.setDefaultLabels({ app });
    collectDefaultMetrics({ register: this.registry, prefix: 'stratum_' });
    this.httpDuration = new SeriesHistogram(
      {
        name: 'stratum_http_request_duration_seconds',
        help: 'HTTP request duration by route template and status code',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      },
      [this.registry],
    );
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

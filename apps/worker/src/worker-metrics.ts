import { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsRegistry } from '#infra/metrics';

/**
 * Metric labels of a model version. Tenants' uploaded models (named `<orgId>/<name>` inside
 * the worker) fold into one `model="tenant"` series: no per-tenant label on high-volume
 * series (per-tenant usage lives in Postgres). Null for gauges, which an uploaded model skips.
 */
export function modelLabels(ref: { name: string; version: string }): { model: string; version: string } {
  return ref.name.includes('/') ? { model: 'tenant', version: 'uploaded' } : { model: ref.name, version: ref.version };
}

export function isUploaded(ref: { name: string }): boolean {
  return ref.name.includes('/');
}

/** The worker's series: the autoscaler's inputs (wait, duration, busy ratio) among them. */
export class WorkerMetrics {
  readonly jobWait: Histogram<'pool'>;
  readonly inference: Histogram<'model' | 'version'>;
  readonly jobs: Counter<'pool' | 'outcome'>;
  readonly busy: Gauge<'pool'>;
  readonly service: Histogram<'pool'>;
  /** 1 while this worker runs at least one job of the pool (sum by pool = busy workers). */
  readonly workersBusy: Gauge<'pool'>;
  /** 1 while this worker takes jobs of the pool (0 before its models are warm and once it drains). */
  readonly workersReady: Gauge<'pool'>;
  readonly provider: Gauge<'model' | 'version' | 'provider'>;
  readonly loadSeconds: Gauge<'model' | 'version' | 'phase'>;
  readonly modelQueueWait: Histogram<'model' | 'version'>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly items: Counter<'model' | 'version'>;
  readonly sessions: Gauge<'model' | 'version'>;
  readonly loadFailures: Counter<'model' | 'version'>;

  constructor(metrics: MetricsRegistry) {
    const registers = [metrics.registry];
    this.jobWait = new Histogram({
      name: 'stratum_job_wait_seconds',
      help: 'Time a job waited in its queue before a worker started it',
      labelNames: ['pool'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.inference = new Histogram({
      name: 'stratum_inference_duration_seconds',
      help: 'Wall time of one session.run',
      labelNames: ['model', 'version'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.jobs = new Counter({ name: 'stratum_jobs_total', help: 'Jobs finished by outcome', labelNames: ['pool', 'outcome'], registers });
    this.busy = new Gauge({ name: 'stratum_worker_busy_ratio', help: 'Running jobs over concurrency slots', labelNames: ['pool'], registers });
    this.service = new Histogram({
      name: 'stratum_job_service_seconds',
      help: 'Time a worker spent on one job (start to finish, batching wait included)',
      labelNames: ['pool'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.workersBusy = new Gauge({ name: 'stratum_workers_busy', help: '1 while this worker runs a job of the pool (sum by pool: busy workers)', labelNames: ['pool'], registers });
    this.workersReady = new Gauge({ name: 'stratum_workers_ready', help: '1 while this worker takes jobs of the pool (sum by pool: ready workers)', labelNames: ['pool'], registers });
    this.provider = new Gauge({
      name: 'stratum_model_execution_provider',
      help: '1 for the execution provider each loaded model runs on',
      labelNames: ['model', 'version', 'provider'],
      registers,
    });
    this.loadSeconds = new Gauge({ name: 'stratum_model_load_seconds', help: 'Model load (phase="load") and warm-up (phase="warmup") time', labelNames: ['model', 'version', 'phase'], registers });
    this.modelQueueWait = new Histogram({
      name: 'stratum_model_queue_wait_seconds',
      help: 'Time a job for this model version waited before a worker started it',
      labelNames: ['model', 'version'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'stratum_model_batch_size',
      help: 'Items per session.run',
      labelNames: ['model', 'version'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    });
    this.items = new Counter({ name: 'stratum_model_items_total', help: 'Items inferred (rate() = items per second)', labelNames: ['model', 'version'], registers });
    this.sessions = new Gauge({ name: 'stratum_model_sessions_loaded', help: 'Warm sessions held (1 once the warm-up inference succeeded)', labelNames: ['model', 'version'], registers });
    this.loadFailures = new Counter({ name: 'stratum_model_load_failures_total', help: 'Model loads or warm-ups that failed (or were refused by the registry)', labelNames: ['model', 'version'], registers });
  }
}

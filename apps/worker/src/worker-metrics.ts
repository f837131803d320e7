import { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsRegistry } from '#libs/metrics';

/** The worker's series: the autoscaler's inputs (wait, duration, busy ratio) among them. */
export class WorkerMetrics {
  readonly jobWait: Histogram<'pool'>;
  readonly inference: Histogram<'model' | 'version'>;
  readonly jobs: Counter<'pool' | 'outcome'>;
  readonly busy: Gauge<'pool'>;
  readonly provider: Gauge<'model' | 'version' | 'provider'>;
  readonly loadSeconds: Gauge<'model' | 'version' | 'phase'>;

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
    this.provider = new Gauge({
      name: 'stratum_model_execution_provider',
      help: '1 for the execution provider each loaded model runs on',
      labelNames: ['model', 'version', 'provider'],
      registers,
    });
    this.loadSeconds = new Gauge({ name: 'stratum_model_load_seconds', help: 'Model load and warm-up time', labelNames: ['model', 'version', 'phase'], registers });
  }
}

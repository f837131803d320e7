import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import { AppConfig } from '#libs/config';
import { Readiness } from '#libs/http';
import { MetricsRegistry } from '#libs/metrics';
import { OnnxModelHost, poolsOf, SHIPPED_MODELS } from '#libs/models';
import { PredictionEvents, PredictionsRepository } from '#libs/predictions';
import { INFERENCE_ATTEMPTS, inferenceQueueName, type InferenceJobData } from '#libs/queue';
import { createRedis } from '#libs/redis';
import { processInferenceJob } from './process-job.js';
import { WorkerMetrics } from './worker-metrics.js';

/** Which pools this worker serves: "all" or a list; an unknown pool refuses start-up. */
export function resolvePools(requested: readonly string[], available: readonly string[]): string[] {
  if (requested.includes('all')) return [...available];
  const unknown = requested.filter((p) => !available.includes(p));
  if (unknown.length) throw new Error(`WORKER_POOLS names unknown pool(s): ${unknown.join(', ')} (known: ${available.join(', ')})`);
  return [...new Set(requested)];
}

/**
 * Loads and warms the models of this worker's pools, then consumes their queues.
 * Readiness is gated on every model having answered its warm-up inference.
 */
@Injectable()
export class InferenceRuntime implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Worker');
  private readonly host: OnnxModelHost;
  private readonly workers: Worker<InferenceJobData>[] = [];
  private readonly pools: string[];
  private readonly metrics: WorkerMetrics;
  private readonly active = new Map<string, number>();
  private loaded = false;

  constructor(
    private readonly config: AppConfig,
    private readonly repo: PredictionsRepository,
    private readonly events: PredictionEvents,
    readiness: Readiness,
    registry: MetricsRegistry,
  ) {
    this.metrics = new WorkerMetrics(registry);
    this.pools = resolvePools(config.env.WORKER_POOLS, poolsOf(SHIPPED_MODELS));
    this.host = new OnnxModelHost({
      onInference: (ref, ms) => this.metrics.inference.observe({ model: ref.name, version: ref.version }, ms / 1000),
    });
    readiness.register('models', async () => {
      if (!this.loaded || !this.host.isReady()) {
        const pending = this.host.status().filter((s) => !s.ready).map((s) => `${s.name}@${s.version}${s.error ? ` (${s.error})` : ''}`);
        throw new Error(pending.length ? `loading: ${pending.join(', ')}` : 'loading');
      }
    });
  }

  onModuleInit(): void {
    // Load in the background: /healthz answers at once, /readyz once the models are warm.
    void this.start().catch((e: unknown) => this.logger.error(`start failed: ${e instanceof Error ? e.message : String(e)}`));
  }

  private async start(): Promise<void> {
    const models = SHIPPED_MODELS.filter((m) => this.pools.includes(m.pool));
    for (const m of models) {
      const s = await this.host.load(m, {
        executionProviders: this.config.env.ORT_EXECUTION_PROVIDERS,
        intraOpThreads: this.config.env.ORT_INTRA_OP_THREADS,
        log: (msg) => this.logger.log(msg),
      });
      this.metrics.provider.set({ model: s.name, version: s.version, provider: s.provider ?? 'none' }, 1);
      this.metrics.loadSeconds.set({ model: s.name, version: s.version, phase: 'load' }, (s.loadMs ?? 0) / 1000);
      this.metrics.loadSeconds.set({ model: s.name, version: s.version, phase: 'warmup' }, (s.warmupMs ?? 0) / 1000);
    }
    this.loaded = true;
    for (const pool of this.pools) this.consume(pool);
    this.logger.log(`serving pool(s) ${this.pools.join(', ')} with concurrency ${this.config.env.WORKER_CONCURRENCY}`);
  }

  private consume(pool: string): void {
    const concurrency = this.config.env.WORKER_CONCURRENCY;
    const connection = createRedis(this.config.env.REDIS_URL, `stratum-worker-${pool}`);
    connection.on('error', (e: Error) => this.logger.warn(`redis: ${e.message}`));
    this.active.set(pool, 0);
    this.metrics.busy.set({ pool }, 0);
    const worker = new Worker<InferenceJobData>(
      inferenceQueueName(pool),
      async (job: Job<InferenceJobData>) => {
        this.active.set(pool, (this.active.get(pool) ?? 0) + 1);
        this.metrics.busy.set({ pool }, (this.active.get(pool) ?? 0) / concurrency);
        this.metrics.jobWait.observe({ pool }, Math.max(0, Date.now() - job.data.enqueuedAt) / 1000);
        try {
          const outcome = await processInferenceJob(
            { data: job.data, attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? INFERENCE_ATTEMPTS },
            { repo: this.repo, events: this.events, runner: this.host },
          );
          this.metrics.jobs.inc({ pool, outcome });
          return outcome;
        } catch (e) {
          this.metrics.jobs.inc({ pool, outcome: 'error' });
          throw e;
        } finally {
          this.active.set(pool, (this.active.get(pool) ?? 1) - 1);
          this.metrics.busy.set({ pool }, (this.active.get(pool) ?? 0) / concurrency);
        }
      },
      { connection, prefix: this.config.env.REDIS_PREFIX, concurrency },
    );
    worker.on('error', (e: Error) => this.logger.warn(`queue ${pool}: ${e.message}`));
    worker.on('failed', (job, e) => this.logger.warn(`job ${job?.id ?? '?'} failed: ${e.message}`));
    this.workers.push(worker);
  }

  async onApplicationShutdown(): Promise<void> {
    // Let running jobs finish (BullMQ waits for them), then free the sessions.
    await Promise.allSettled(this.workers.map((w) => w.close()));
    await this.host.close();
  }
}

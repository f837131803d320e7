import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { AppConfig } from '#infra/config';
import { MetricsRegistry } from '#infra/metrics';
import { InferenceQueues, registerQueueDepthGauge } from '#infra/queue';
import { desiredWorkers, type ScalingPolicy } from '#infra/scaling';

/**
 * Reads each pool's queue, decides how many workers it wants, exports and logs the
 * decision. Acting on it (local processes, Kubernetes) comes with the scaling issue.
 */
@Injectable()
export class ScalerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Autoscaler');
  private readonly desired: Gauge<'pool'>;
  /** The catalogue's pools (built-in + MODEL_REPOSITORY) and the tenant pool; read at start-up. */
  private pools: string[] = [];
  private readonly policy: ScalingPolicy;
  private readonly last = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private lastTickOk = false;

  constructor(
    private readonly config: AppConfig,
    private readonly queues: InferenceQueues,
    metrics: MetricsRegistry,
  ) {
    this.policy = {
      minWorkers: config.env.AUTOSCALER_MIN_WORKERS,
      maxWorkers: config.env.AUTOSCALER_MAX_WORKERS,
      targetPerWorker: config.env.AUTOSCALER_TARGET_BACKLOG_PER_WORKER,
    };
    this.desired = new Gauge({ name: 'stratum_autoscaler_desired_workers', help: 'Workers the autoscaler wants per model pool', labelNames: ['pool'], registers: [metrics.registry] });
    registerQueueDepthGauge(metrics, queues, () => this.pools);
  }

  get healthy(): boolean {
    return this.lastTickOk;
  }

  async onModuleInit(): Promise<void> {
    this.pools = this.queues.pools();
    const loop = async () => {
      await this.tick();
      this.timer = setTimeout(() => void loop(), this.config.env.AUTOSCALER_INTERVAL_MS);
    };
    void loop();
  }

  async tick(): Promise<void> {
    try {
      for (const pool of this.pools) {
        const c = await this.queues.counts(pool);
        const want = desiredWorkers({ backlog: c.waiting + c.prioritized + c.delayed, active: c.active }, this.policy);
        this.desired.set({ pool }, want);
        if (this.last.get(pool) !== want) {
          this.logger.log(`pool ${pool}: backlog ${c.waiting + c.prioritized + c.delayed}, active ${c.active} → wants ${want} worker(s)`);
          this.last.set(pool, want);
        }
      }
      this.lastTickOk = true;
    } catch (e) {
      this.lastTickOk = false;
      this.logger.warn(`cannot read queues: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  onApplicationShutdown(): void {
    clearTimeout(this.timer);
  }
}

import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { QuotaService } from './quota.service.js';

const SWEEP_EVERY_MS = 60_000;

/** Runs `QuotaService.sweep` every minute on gateways that run the system jobs. */
@Injectable()
export class QuotaSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Quotas');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly quotas: QuotaService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.env.SYSTEM_JOBS !== 'on') return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.quotas
        .sweep()
        .catch((e: unknown) => this.logger.warn(`quota sweep: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => (this.running = undefined));
    }, SWEEP_EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { PrismaClient } from '#infra/db';
import { pruneUsageEvents } from './ledger.js';

const SWEEP_EVERY_MS = 3_600_000;

/**
 * Deletes raw usage events older than USAGE_EVENT_RETENTION_DAYS every hour (gateways that run
 * the system jobs; several at once only delete the same rows). The rollups are kept: usage
 * queries and invoices never need the raw rows.
 */
@Injectable()
export class UsageRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('UsageRetention');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
  ) {}

  /** One sweep: deletes what is past retention, returns how many rows. */
  async sweep(now = Date.now()): Promise<number> {
    const n = await pruneUsageEvents(this.db, new Date(now - this.config.env.USAGE_EVENT_RETENTION_DAYS * 86_400_000));
    if (n) this.logger.log(`deleted ${n} usage events older than ${this.config.env.USAGE_EVENT_RETENTION_DAYS} days (rollups kept)`);
    return n;
  }

  onApplicationBootstrap(): void {
    if (this.config.env.SYSTEM_JOBS !== 'on') return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .catch((e: unknown) => this.logger.warn(`usage retention: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => (this.running = undefined));
    }, SWEEP_EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

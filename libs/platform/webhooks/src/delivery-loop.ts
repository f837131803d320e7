import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { PrismaClient } from '#infra/db';
import { allowList, type Resolver } from './address.js';
import { DELIVERY_BATCH, DeliveryEngine } from './engine.js';
import { systemResolver } from './post.js';
import { parseSchedule } from './schedule.js';
import { pruneMessages } from './store.js';

/** Injection token: a DNS resolver for webhook targets (the system's when not provided). */
export const WEBHOOK_RESOLVER = Symbol('WEBHOOK_RESOLVER');

const RETENTION_EVERY_MS = 60_000;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * The delivery loop: a Postgres-polled loop rather than a BullMQ queue, because the messages
 * are rows already (created in the consumer's round, listable and replayable by the API) and
 * a due time per row is all a schedule of hours needs; FOR UPDATE SKIP LOCKED lets every
 * gateway running system jobs share the work. Runs where SYSTEM_JOBS=on.
 */
@Injectable()
export class WebhookDelivery implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Webhooks');
  readonly engine: DeliveryEngine;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private lastRetention = 0;

  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
    @Optional() @Inject(WEBHOOK_RESOLVER) resolver?: Resolver,
  ) {
    const env = config.env;
    this.engine = new DeliveryEngine(db, { schedule: parseSchedule(env.WEBHOOK_RETRY_SCHEDULE), allowed: allowList(env.WEBHOOK_ALLOWED_CIDRS), timeoutMs: env.WEBHOOK_TIMEOUT_MS, resolve: resolver ?? systemResolver });
  }

  onApplicationBootstrap(): void {
    if (this.config.env.SYSTEM_JOBS !== 'on') return;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let handled = 0;
      try {
        handled = await this.engine.runOnce();
      } catch (e) {
        this.logger.warn(`delivery round failed: ${e instanceof Error ? e.message : String(e)} (retrying)`);
      }
      if (Date.now() - this.lastRetention >= RETENTION_EVERY_MS) {
        this.lastRetention = Date.now();
        await pruneMessages(this.db, new Date(Date.now() - this.config.env.PREDICTION_RETENTION_DAYS * 86_400_000)).catch((e: unknown) => this.logger.warn(`retention: ${String(e)}`));
      }
      if (handled < DELIVERY_BATCH) await pause(this.config.env.WEBHOOK_POLL_MS);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

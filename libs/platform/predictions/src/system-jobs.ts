import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { PrismaClient } from '#infra/db';
import { InferenceQueues } from '#infra/queue';
import type { LifecycleConsumer } from './lifecycle-events.js';
import { PredictionLifecycle } from './lifecycle.js';
import { deliverOnce, outboxHead, pruneEvents, releaseConsumer } from './outbox.js';
import { PredictionsRepository } from './predictions.repository.js';
import { recoveryAction, type RecoveryAction } from './recovery-policy.js';

/** Injection token: the lifecycle consumers this process runs (an array). */
export const LIFECYCLE_CONSUMERS = Symbol('LIFECYCLE_CONSUMERS');

const OUTBOX_BATCH = 200;
const LEASE_MS = 15_000;
const RECOVERY_BATCH = 500;
const RETENTION_EVERY_MS = 60_000;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Runs each lifecycle consumer in its own loop: one runner per consumer across all
 * gateways (a lease in Postgres), at-least-once delivery in commit order.
 *
 * Idle costs one shared read of the outbox's head per poll: a consumer that has caught up
 * skips its round (no lease update, no read) until a newer event exists or its lease is due
 * for renewal (every LEASE_MS / 3). Before, each consumer renewed its lease and read the
 * outbox every poll: 8 queries (4 of them writes) every 200 ms per gateway, for nothing.
 */
@Injectable()
export class OutboxDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Outbox');
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  /** The outbox head, read at most once per poll interval whatever the number of consumers. */
  private head: { at: number; seq: Promise<bigint> } | undefined;

  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
    @Inject(LIFECYCLE_CONSUMERS) private readonly consumers: LifecycleConsumer[],
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.env.SYSTEM_JOBS !== 'on') return;
    for (const c of this.consumers) this.loops.push(this.run(c));
  }

  private outboxHead(): Promise<bigint> {
    const now = Date.now();
    if (!this.head || now - this.head.at >= this.config.env.OUTBOX_POLL_MS / 2) {
      const seq = outboxHead(this.db);
      seq.catch(() => (this.head = undefined));
      this.head = { at: now, seq };
    }
    return this.head.seq;
  }

  private async run(consumer: LifecycleConsumer): Promise<void> {
    let caughtUp: bigint | null = null; // the position after the last round that left nothing behind
    let renewAt = 0;
    while (!this.stopped) {
      let more: boolean;
      try {
        if (caughtUp !== null && Date.now() < renewAt && (await this.outboxHead()) <= caughtUp) {
          await pause(this.config.env.OUTBOX_POLL_MS);
          continue;
        }
        const round = await deliverOnce(this.db, consumer, this.owner, { batch: consumer.batchSize ?? OUTBOX_BATCH, leaseMs: LEASE_MS });
        more = round.more;
        caughtUp = round.leased && !round.more ? (round.position?.seq ?? null) : null;
        renewAt = Date.now() + LEASE_MS / 3;
      } catch (e) {
        caughtUp = null;
        this.logger.warn(`consumer ${consumer.name}: ${message(e)} (retrying)`);
        await pause(Math.max(this.config.env.OUTBOX_POLL_MS, 1_000));
        continue;
      }
      if (!more) await pause(this.config.env.OUTBOX_POLL_MS);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.loops);
    await Promise.allSettled(this.consumers.map((c) => releaseConsumer(this.db, c.name, this.owner)));
  }
}

export interface RecoveryReport {
  checked: number;
  actions: Partial<Record<RecoveryAction, number>>;
}

/**
 * Postgres is the record of truth: every RECOVERY_INTERVAL_MS, unfinished predictions older
 * than RECOVERY_GRACE_MS are checked against their queue. A missing job is enqueued again,
 * a prediction past its deadline fails with deadline_exceeded; retention runs here too.
 */
@Injectable()
export class PredictionRecovery implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Recovery');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private lastRetention = 0;

  constructor(
    private readonly repo: PredictionsRepository,
    private readonly lifecycle: PredictionLifecycle,
    private readonly queues: InferenceQueues,
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.env.SYSTEM_JOBS !== 'on') return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick()
        .catch((e: unknown) => this.logger.warn(`recovery: ${message(e)}`))
        .finally(() => (this.running = undefined));
    }, this.config.env.RECOVERY_INTERVAL_MS);
    this.timer.unref();
  }

  /** One pass (exposed for tests and operators). */
  async tick(now = new Date()): Promise<RecoveryReport> {
    const report: RecoveryReport = { checked: 0, actions: {} };
    const rows = await this.repo.unfinished(new Date(now.getTime() - this.config.env.RECOVERY_GRACE_MS), RECOVERY_BATCH, now);
    for (const p of rows) {
      report.checked++;
      const state = p.deadlineAt.getTime() <= now.getTime() ? 'n/a' : await this.queues.jobState(p.pool, p.id);
      const action = recoveryAction(p, state, now);
      const scope = { orgId: p.orgId };
      let acted = true;
      switch (action) {
        case 'cancel_deadline':
          // Cancel-After: canceled, never billed; a worker finishing later cannot succeed it.
          acted = (await this.lifecycle.cancel({ orgId: p.orgId, mode: p.mode }, p.id, now)) !== null;
          break;
        case 'fail_deadline':
          acted = await this.lifecycle.fail(scope, p.id, { code: 'deadline_exceeded', message: `The prediction did not finish within ${this.config.env.PREDICTION_DEADLINE_SECONDS} s of its creation.` }, null, now);
          if (acted) await this.queues.removeIfWaiting(p.pool, p.id).catch(() => false);
          break;
        case 'requeue':
          acted = await this.lifecycle.requeue(scope, p.id);
          break;
        case 'fail_lost':
          acted = await this.lifecycle.fail(scope, p.id, { code: 'prediction_failed', message: 'The prediction could not be run: its workers stopped on every attempt.' }, null, now);
          break;
        case 'replace':
          // The row was read before the job's state: a job that completed in between most likely
          // finished its prediction (the worker records the outcome before completing the job).
          // Only a prediction still unfinished now gets a new job; the completed one is kept.
          if (!(await this.repo.isUnfinished(p.id))) {
            acted = false;
            break;
          }
          await this.queues.removeJob(p.pool, p.id);
          acted = await this.lifecycle.requeue(scope, p.id);
          break;
        case 'none':
          acted = false;
      }
      if (acted) {
        report.actions[action] = (report.actions[action] ?? 0) + 1;
        if (action !== 'none') this.logger.log(`prediction ${p.id}: ${action}`);
      }
    }
    if (now.getTime() - this.lastRetention >= RETENTION_EVERY_MS) {
      this.lastRetention = now.getTime();
      await this.retention(now);
    }
    return report;
  }

  /** Deletes inputs/outputs and lifecycle events older than PREDICTION_RETENTION_DAYS (bounded batches). */
  async retention(now = new Date()): Promise<{ purged: number; events: number }> {
    const cutoff = new Date(now.getTime() - this.config.env.PREDICTION_RETENTION_DAYS * 86_400_000);
    const purged = await this.repo.purgePayloads(cutoff);
    const events = await pruneEvents(this.db, cutoff);
    return { purged, events };
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

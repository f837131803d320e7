import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { PrismaClient, uuidv7 } from '#infra/db';
import { InferenceQueues, type InferenceJobData, type KeyMode, type TensorJobModel } from '#infra/queue';
import { PredictionEvents } from './prediction-events.js';
import { cancelPrediction, failPrediction, insertPrediction, startPrediction, succeedPrediction, type TransitionRow } from './transitions.js';
import type { PredictionMetrics, PredictionRecord } from './prediction-view.js';
import { PredictionsRepository, type KeyScope, type TenantScope } from './predictions.repository.js';

/** What a prediction runs besides its input: a feature pipeline, or one model on tensors (v2). */
export type RunSpec = { kind: 'feature' } | { kind: 'tensor'; model: TensorJobModel; outputs: string[] | null };

/** Who submits: the authenticated key, its organization and its plan's queue priority. */
export interface Submitter {
  orgId: string;
  apiKeyId: string;
  mode: KeyMode;
  priority: number;
}

export interface Submission {
  feature: string;
  featureVersion: string;
  pool: string;
  models: { name: string; version: string }[];
  spec: RunSpec;
  input: unknown;
  /** Cancel-After: canceled if not finished within this many ms (capped by the deadline). */
  cancelAfterMs?: number;
  webhook?: string;
  webhookEventsFilter?: string[];
  /** The prediction's id when the caller made it beforehand (a UUIDv7, e.g. to reserve quota under it); a new one otherwise. */
  id?: string;
}

export interface SubmitResult {
  record: PredictionRecord;
}

export interface Success {
  output: unknown;
  metrics: PredictionMetrics;
  models: { name: string; version: string; sha256?: string }[];
  units: number;
  unitType: string;
}

/** The columns the job data is made of. */
const RUN_SELECT = { id: true, orgId: true, apiKeyId: true, mode: true, feature: true, featureVersion: true, pool: true, priority: true, spec: true, models: true, createdAt: true } as const;
type RunRow = Pick<TransitionRow, keyof typeof RUN_SELECT>;

const UNFINISHED = ['starting', 'processing'] as const;

/** The job a prediction is: ids and what to run, never the input (the worker reads it from Postgres). */
export function jobDataOf(row: RunRow): InferenceJobData {
  const spec = row.spec as RunSpec;
  const base = {
    predictionId: row.id,
    orgId: row.orgId,
    apiKeyId: row.apiKeyId,
    mode: row.mode,
    models: (row.models ?? []) as { name: string; version: string }[],
    priority: row.priority,
    enqueuedAt: row.createdAt.getTime(),
  };
  return spec.kind === 'tensor' ? { ...base, kind: 'tensor', model: spec.model, outputs: spec.outputs } : { ...base, kind: 'feature', feature: { name: row.feature, version: row.featureVersion } };
}

/**
 * The one owner of a prediction's life: submit → start → succeed | fail | cancel. Each
 * transition is a guarded status change that appends its typed event to the outbox in the
 * same transaction; every reaction (usage, billing, webhooks) consumes those events.
 */
@Injectable()
export class PredictionLifecycle {
  private readonly logger = new Logger('PredictionLifecycle');

  constructor(
    private readonly db: PrismaClient,
    private readonly repo: PredictionsRepository,
    private readonly queues: InferenceQueues,
    private readonly events: PredictionEvents,
    private readonly config: AppConfig,
  ) {}

  /**
   * Stores the prediction and its input with `prediction.created`, enqueues its job (ids
   * only) and, with `waitMs`, waits for it to finish. Once committed the prediction is never
   * lost: an enqueue that fails here is redone by the recovery loop.
   */
  async submit(who: Submitter, s: Submission, opts: { waitMs: number | null }): Promise<SubmitResult> {
    this.queues.assertAvailable();
    const scope = { orgId: who.orgId, mode: who.mode };
    const id = s.id ?? uuidv7();
    const waiter = opts.waitMs !== null ? this.events.waitFor(id, opts.waitMs) : null;
    try {
      const now = new Date();
      const row = await insertPrediction(
        this.db,
        {
          id,
          orgId: who.orgId,
          apiKeyId: who.apiKeyId,
          mode: who.mode,
          feature: s.feature,
          featureVersion: s.featureVersion,
          pool: s.pool,
          priority: who.priority,
          spec: s.spec,
          models: s.models,
          input: s.input,
          cancelAt: s.cancelAfterMs === undefined ? null : new Date(now.getTime() + s.cancelAfterMs),
          webhook: s.webhook ?? null,
          webhookEventsFilter: s.webhookEventsFilter ?? [],
          createdAt: now,
          deadlineAt: new Date(now.getTime() + Math.min(this.config.env.PREDICTION_DEADLINE_SECONDS * 1000, s.cancelAfterMs ?? Infinity)),
        },
        uuidv7(),
      );
      if (!row) throw new Error(`prediction ${id} was not inserted`);
      await this.enqueue(row);
      if (!waiter) return { record: row };
      await waiter.done;
      const record = await this.repo.find(scope, id);
      if (!record) throw new Error(`prediction ${id} vanished`);
      return { record };
    } finally {
      waiter?.cancel();
    }
  }

  /** Enqueues (again) the job of a stored prediction; the job id is the prediction id, so a duplicate is a no-op. */
  async enqueue(row: RunRow): Promise<boolean> {
    try {
      await this.queues.enqueue(row.pool, jobDataOf(row));
      return true;
    } catch (e) {
      this.logger.warn(`enqueue of ${row.id} failed (the recovery loop will redo it): ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  /** Re-enqueues a stored prediction by id (recovery). */
  async requeue(scope: TenantScope, id: string): Promise<boolean> {
    const row = await this.db.prediction.findFirst({ where: { id, orgId: scope.orgId, status: { in: [...UNFINISHED] } }, select: RUN_SELECT });
    return row ? this.enqueue(row) : false;
  }

  /**
   * starting|processing → processing (processing again when a job is redelivered after its
   * worker died), with `prediction.started`; returns the input, or null when the prediction is
   * no longer runnable (finished or canceled meanwhile).
   */
  async start(scope: TenantScope, id: string, attempt: number, at: Date): Promise<{ input: unknown } | null> {
    const row = await startPrediction(this.db, id, scope.orgId, attempt, at, uuidv7());
    return row ? { input: row.input ?? null } : null;
  }

  /** processing → succeeded with its units in `prediction.succeeded`; false when it was canceled (or finished) meanwhile: nothing is billed. */
  async succeed(scope: TenantScope, id: string, result: Success, at: Date): Promise<boolean> {
    if (!Number.isInteger(result.units) || result.units < 0) throw new Error(`invalid units ${result.units}`);
    const done = (await succeedPrediction(this.db, id, scope.orgId, result, at, uuidv7())) !== null;
    if (done) await this.announce(id);
    return done;
  }

  /** starting|processing → failed with `prediction.failed`; false when it had finished already. */
  async fail(scope: TenantScope, id: string, error: { code: string; message: string }, metrics: PredictionMetrics | null, at: Date): Promise<boolean> {
    const done = (await failPrediction(this.db, id, scope.orgId, error, metrics, at, uuidv7())) !== null;
    if (done) await this.announce(id);
    return done;
  }

  /** starting|processing → canceled with `prediction.canceled` (never billed); a waiting job is removed from its queue. Null when it had finished already (or is not this key's to see). */
  async cancel(scope: KeyScope, id: string, at: Date): Promise<PredictionRecord | null> {
    const canceled = await cancelPrediction(this.db, id, scope.orgId, scope.mode, at, uuidv7());
    if (!canceled) return null;
    await this.queues.removeIfWaiting(canceled.pool, id).catch(() => false);
    await this.announce(id);
    return canceled;
  }

  /** Wakes `Prefer: wait` callers on every gateway (best effort: they also time out). */
  private async announce(id: string): Promise<void> {
    await this.events.publishFinished(id).catch(() => undefined);
  }
}

import { Injectable } from '@nestjs/common';
import { Prisma, PrismaClient } from '#infra/db';
import { recordUsage, type UsageEventInput } from '#platform/metering';
import type { KeyMode } from '#infra/queue';
import type { PredictionMetrics, PredictionRecord } from './prediction-view.js';

/** Every method takes the tenant: a query without an orgId does not compile. */
export interface TenantScope {
  readonly orgId: string;
}

/**
 * What an API key may see: its organization's predictions of its own mode. As in Stripe,
 * test and live data are apart: a test key never sees a live prediction and vice versa.
 */
export interface KeyScope extends TenantScope {
  readonly mode: KeyMode;
}

export interface NewPrediction {
  id: string;
  apiKeyId: string;
  mode: KeyMode;
  feature: string;
  featureVersion: string;
  input: unknown;
  idempotencyKey?: string;
  webhook?: string;
  webhookEventsFilter?: string[];
}

export interface PredictionSuccess {
  output: unknown;
  metrics: PredictionMetrics;
  models: { name: string; version: string }[];
  usage: Omit<UsageEventInput, 'id' | 'orgId' | 'occurredAt'>;
}

const SELECT = {
  id: true,
  orgId: true,
  apiKeyId: true,
  mode: true,
  feature: true,
  featureVersion: true,
  status: true,
  output: true,
  error: true,
  units: true,
  metrics: true,
  models: true,
  createdAt: true,
  startedAt: true,
  completedAt: true,
} as const;

const json = (v: unknown): Prisma.InputJsonValue => v as Prisma.InputJsonValue;

@Injectable()
export class PredictionsRepository {
  constructor(private readonly db: PrismaClient) {}

  /** Inserts a new prediction; 'duplicate' when its Idempotency-Key is already taken in the organization. */
  async create(scope: TenantScope, p: NewPrediction): Promise<PredictionRecord | 'duplicate'> {
    try {
      return await this.insert(scope, p);
    } catch (e) {
      if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002') return 'duplicate';
      throw e;
    }
  }

  private async insert(scope: TenantScope, p: NewPrediction): Promise<PredictionRecord> {
    return this.db.prediction.create({
      data: {
        id: p.id,
        orgId: scope.orgId,
        apiKeyId: p.apiKeyId,
        mode: p.mode,
        feature: p.feature,
        featureVersion: p.featureVersion,
        status: 'starting',
        input: json(p.input),
        idempotencyKey: p.idempotencyKey ?? null,
        webhook: p.webhook ?? null,
        webhookEventsFilter: p.webhookEventsFilter ?? [],
      },
      select: SELECT,
    });
  }

  async find(scope: KeyScope, id: string): Promise<PredictionRecord | null> {
    return this.db.prediction.findFirst({ where: { id, orgId: scope.orgId, mode: scope.mode }, select: SELECT });
  }

  async findByIdempotencyKey(scope: KeyScope, idempotencyKey: string): Promise<PredictionRecord | null> {
    return this.db.prediction.findFirst({ where: { orgId: scope.orgId, mode: scope.mode, idempotencyKey }, select: SELECT });
  }

  /** The job's input (kept out of the default select: it can be megabytes). */
  async findInput(scope: TenantScope, id: string): Promise<unknown> {
    const row = await this.db.prediction.findFirst({ where: { id, orgId: scope.orgId }, select: { input: true } });
    return row?.input;
  }

  /** Newest first; `after` is the id of the last item of the previous page (ids are UUIDv7). */
  async list(scope: KeyScope, page: { after?: string; limit: number }): Promise<PredictionRecord[]> {
    return this.db.prediction.findMany({
      where: { orgId: scope.orgId, mode: scope.mode, ...(page.after ? { id: { lt: page.after } } : {}) },
      orderBy: { id: 'desc' },
      take: page.limit,
      select: SELECT,
    });
  }

  async remove(scope: TenantScope, id: string): Promise<void> {
    await this.db.prediction.deleteMany({ where: { id, orgId: scope.orgId } });
  }

  /** starting → processing; false when the prediction is no longer startable (e.g. canceled). */
  async markProcessing(scope: TenantScope, id: string, at: Date): Promise<boolean> {
    const { count } = await this.db.prediction.updateMany({
      where: { id, orgId: scope.orgId, status: { in: ['starting', 'processing'] } },
      data: { status: 'processing', startedAt: at },
    });
    return count === 1;
  }

  /**
   * processing → succeeded and the usage event, in one transaction: a success is billed
   * exactly once, a prediction canceled meanwhile is not billed at all.
   */
  async succeed(scope: TenantScope, id: string, result: PredictionSuccess, at: Date): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.prediction.updateMany({
        where: { id, orgId: scope.orgId, status: { in: ['starting', 'processing'] } },
        data: {
          status: 'succeeded',
          output: json(result.output),
          metrics: json(result.metrics),
          models: json(result.models),
          units: result.usage.units,
          completedAt: at,
          error: Prisma.DbNull,
        },
      });
      if (count !== 1) return false;
      await recordUsage(tx, { ...result.usage, id, orgId: scope.orgId, occurredAt: at });
      return true;
    });
  }

  async fail(scope: TenantScope, id: string, error: { code: string; message: string }, metrics: PredictionMetrics | null, at: Date): Promise<boolean> {
    const { count } = await this.db.prediction.updateMany({
      where: { id, orgId: scope.orgId, status: { in: ['starting', 'processing'] } },
      data: { status: 'failed', error: json(error), completedAt: at, ...(metrics ? { metrics: json(metrics) } : {}) },
    });
    return count === 1;
  }

  /** Cancels a prediction that has not finished; false when it already had. */
  async cancel(scope: TenantScope, id: string, at: Date): Promise<boolean> {
    const { count } = await this.db.prediction.updateMany({
      where: { id, orgId: scope.orgId, status: { in: ['starting', 'processing'] } },
      data: { status: 'canceled', completedAt: at },
    });
    return count === 1;
  }
}

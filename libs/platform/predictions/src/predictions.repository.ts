import { Injectable } from '@nestjs/common';
import { Prisma, PrismaClient } from '#infra/db';
import type { KeyMode } from '#infra/queue';
import type { PredictionRecord } from './prediction-view.js';

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

/** The columns of a PredictionRecord. */
export const PREDICTION_SELECT = {
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

/** An unfinished prediction as the recovery loop sees it (across tenants: a system job). */
export interface UnfinishedPrediction {
  id: string;
  orgId: string;
  pool: string;
  mode: 'live' | 'test';
  status: 'starting' | 'processing';
  deadlineAt: Date;
  /** Cancel-After, when the client set one. */
  cancelAt: Date | null;
}

/** Reads of predictions (the writes are PredictionLifecycle's transitions). */
@Injectable()
export class PredictionsRepository {
  constructor(private readonly db: PrismaClient) {}

  async find(scope: KeyScope, id: string): Promise<PredictionRecord | null> {
    return this.db.prediction.findFirst({ where: { id, orgId: scope.orgId, mode: scope.mode }, select: PREDICTION_SELECT });
  }

  /** Newest first; `after` is the id of the last item of the previous page (ids are UUIDv7). Index: (orgId, mode, id). */
  async list(scope: KeyScope, page: { after?: string; limit: number }): Promise<PredictionRecord[]> {
    return this.db.prediction.findMany({
      where: { orgId: scope.orgId, mode: scope.mode, ...(page.after ? { id: { lt: page.after } } : {}) },
      orderBy: { id: 'desc' },
      take: page.limit,
      select: PREDICTION_SELECT,
    });
  }

  /** Unfinished predictions created before `before`, oldest first (index: status, createdAt). */
  /** Whether the prediction is still starting or processing (a fresh read, e.g. after looking at its job). */
  async isUnfinished(id: string): Promise<boolean> {
    return (await this.db.prediction.count({ where: { id, status: { in: ['starting', 'processing'] } } })) > 0;
  }

  async unfinished(before: Date, limit: number, now = new Date()): Promise<UnfinishedPrediction[]> {
    const rows = await this.db.prediction.findMany({
      // Past its deadline (a short Cancel-After) a prediction is due even inside the grace period.
      where: { status: { in: ['starting', 'processing'] }, OR: [{ createdAt: { lt: before } }, { deadlineAt: { lte: now } }] },
      orderBy: { createdAt: 'asc' },
      take: limit,
      select: { id: true, orgId: true, mode: true, pool: true, status: true, deadlineAt: true, cancelAt: true },
    });
    return rows as UnfinishedPrediction[];
  }

  /**
   * Retention: deletes the inputs and outputs of predictions finished before `before` (the
   * record, its status, units and timings stay). Returns how many were purged (bounded batch).
   */
  async purgePayloads(before: Date, batch = 1_000): Promise<number> {
    // Ordered as the (purgedAt, completedAt) index is: the planner then walks that index (a
    // few µs when nothing is due) instead of scanning the table for rows that are not there.
    const ids = await this.db.prediction.findMany({
      where: { purgedAt: null, completedAt: { lt: before } },
      orderBy: [{ purgedAt: 'asc' }, { completedAt: 'asc' }],
      select: { id: true },
      take: batch,
    });
    if (ids.length === 0) return 0;
    const list = ids.map((r) => r.id);
    await this.db.$transaction([
      this.db.predictionInput.deleteMany({ where: { predictionId: { in: list } } }),
      this.db.prediction.updateMany({ where: { id: { in: list } }, data: { output: Prisma.DbNull, purgedAt: new Date() } }),
    ]);
    return list.length;
  }
}

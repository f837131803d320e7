import { Injectable } from '@nestjs/common';
import { type AuthenticatedKey } from '#platform/api-keys';
import { AppConfig } from '#infra/config';
import { uuidv7 } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { featureModels, findFeature, validateFeatureInput } from '#feature-engine/feature-catalogue';
import { findShippedModel } from '#model-service/model-format';
import { PredictionEvents, PredictionsRepository, isTerminal, toPredictionView, type PredictionRecord, type PredictionView } from '#platform/predictions';
import { InferenceQueues } from '#infra/queue';
import type { CreatePredictionBody } from './create-prediction.body.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The one pool that serves every model of a feature; undefined when there is none (or several). */
function poolOf(models: readonly { name: string; version: string }[]): string | undefined {
  const pools = new Set(models.map((m) => findShippedModel(m.name, m.version)?.pool));
  const [pool] = pools;
  return pools.size === 1 ? pool : undefined;
}

export interface CreateResult {
  prediction: PredictionView;
  /** true when the prediction reached a final state within the wait. */
  finished: boolean;
  /** true when an earlier request with the same Idempotency-Key created it. */
  replayed: boolean;
}

@Injectable()
export class PredictionsService {
  constructor(
    private readonly repo: PredictionsRepository,
    private readonly events: PredictionEvents,
    private readonly queues: InferenceQueues,
    private readonly config: AppConfig,
  ) {}

  async create(key: AuthenticatedKey, body: CreatePredictionBody, opts: { waitSeconds: number | null; idempotencyKey?: string }): Promise<CreateResult> {
    const scope = { orgId: key.orgId, mode: key.mode };
    const feature = findFeature(body.feature, body.version);
    if (!feature) {
      throw new ProblemError('feature_not_found', `No feature "${body.feature}"${body.version ? ` at version ${body.version}` : ''}. GET /v1/features lists them.`);
    }
    validateFeatureInput(feature, body.input);
    const models = featureModels(feature);
    const pool = poolOf(models);
    if (pool === undefined) {
      throw new ProblemError('model_unavailable', `Feature "${feature.name}" has no model pool to run on.`, { headers: { 'retry-after': '30' } });
    }

    const id = uuidv7();
    const waiter = opts.waitSeconds !== null ? this.events.waitFor(id, opts.waitSeconds * 1000) : null;
    try {
      const created = await this.repo.create(scope, {
        id,
        apiKeyId: key.keyId,
        mode: key.mode,
        feature: feature.name,
        featureVersion: feature.version,
        input: body.input,
        ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
        ...(body.webhook ? { webhook: body.webhook } : {}),
        ...(body.webhook_events_filter ? { webhookEventsFilter: body.webhook_events_filter } : {}),
      });
      if (created === 'duplicate') {
        // The Idempotency-Key was used before (or concurrently): replay that prediction.
        // Held by the other mode, it is a conflict (modes never see each other's data).
        const earlier = opts.idempotencyKey ? await this.repo.findByIdempotencyKey(scope, opts.idempotencyKey) : null;
        if (earlier) return { prediction: this.view(earlier), finished: isTerminal(earlier.status), replayed: true };
        throw new ProblemError('conflict', 'This Idempotency-Key is already used by another request of this organization.');
      }
      try {
        await this.queues.enqueue(pool, {
          predictionId: id,
          orgId: key.orgId,
          apiKeyId: key.keyId,
          mode: key.mode,
          feature: { name: feature.name, version: feature.version },
          models,
          input: body.input,
          priority: key.queuePriority,
          ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
          ...(body.webhook ? { webhook: body.webhook } : {}),
          enqueuedAt: Date.now(),
        });
      } catch (e) {
        // Nothing ran and nothing is billed: forget the prediction, the client retries.
        await this.repo.remove(scope, id);
        throw e;
      }
      if (!waiter) return { prediction: this.view(created), finished: false, replayed: false };
      await waiter.done;
      const row = await this.repo.find(scope, id);
      if (!row) throw new Error(`prediction ${id} vanished`);
      return { prediction: this.view(row), finished: isTerminal(row.status), replayed: false };
    } finally {
      waiter?.cancel();
    }
  }

  async get(key: AuthenticatedKey, id: string): Promise<PredictionView> {
    return this.view(await this.mustFind(key, id));
  }

  async list(key: AuthenticatedKey, page: { after?: string; limit: number }): Promise<{ data: PredictionView[]; has_more: boolean; next_cursor: string | null }> {
    if (page.after !== undefined && !UUID.test(page.after)) throw new ProblemError('bad_request', 'starting_after must be a prediction id.');
    const rows = await this.repo.list({ orgId: key.orgId, mode: key.mode }, { ...page, limit: page.limit + 1 });
    const has_more = rows.length > page.limit;
    const data = rows.slice(0, page.limit).map((r) => this.view(r));
    return { data, has_more, next_cursor: has_more ? (data.at(-1)?.id ?? null) : null };
  }

  async cancel(key: AuthenticatedKey, id: string): Promise<PredictionView> {
    const row = await this.mustFind(key, id);
    if (!isTerminal(row.status)) {
      const scope = { orgId: key.orgId, mode: key.mode };
      const canceled = await this.repo.cancel(scope, id, new Date());
      if (canceled) {
        const feature = findFeature(row.feature, row.featureVersion);
        const pool = feature ? poolOf(featureModels(feature)) : undefined;
        if (pool) await this.queues.removeIfWaiting(pool, id).catch(() => false);
        await this.events.publishFinished(id).catch(() => undefined);
      }
    }
    return this.view(await this.mustFind(key, id));
  }

  private async mustFind(key: AuthenticatedKey, id: string): Promise<PredictionRecord> {
    const row = UUID.test(id) ? await this.repo.find({ orgId: key.orgId, mode: key.mode }, id) : null;
    if (!row) throw new ProblemError('prediction_not_found', `No prediction ${JSON.stringify(id.slice(0, 64))} in this organization.`);
    return row;
  }

  private view(row: PredictionRecord): PredictionView {
    return toPredictionView(row, this.config.publicBaseUrl);
  }
}

import { Injectable } from '@nestjs/common';
import { type AuthenticatedKey } from '#platform/api-keys';
import { AppConfig } from '#infra/config';
import { ProblemError, validationProblem } from '#infra/errors';
import { estimateUnits, FeatureCatalogue, featureModels, parseFeatureRef, validateFeatureInput } from '#feature-engine/feature-catalogue';
import { ModelCatalogue } from '#model-service/model-registry';
import { type QuotaOutcome } from '#platform/quotas';
import { PredictionLifecycle, PredictionsRepository, isTerminal, toPredictionView, type PredictionRecord, type PredictionView } from '#platform/predictions';
import { parseCancelAfter } from '#platform/idempotency';
import { webhookUrlProblem } from '#platform/webhooks';
import type { CreatePredictionBody } from './create-prediction.body.js';
import { Admission } from '../admission.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The one pool that serves every model of a feature; undefined when there is none (or several). */
function poolOf(catalogue: ModelCatalogue, models: readonly { name: string; version: string }[]): string | undefined {
  const pools = new Set(models.map((m) => catalogue.find(m.name, m.version)?.pool));
  const [pool] = pools;
  return pools.size === 1 ? pool : undefined;
}

export interface CreateResult {
  prediction: PredictionView;
  /** true when the prediction reached a final state within the wait. */
  finished: boolean;
  /** The quota this admission saw (for the RateLimit headers); null with QUOTA_METERING=off. */
  quota: QuotaOutcome | null;
}

@Injectable()
export class PredictionsService {
  constructor(
    private readonly repo: PredictionsRepository,
    private readonly lifecycle: PredictionLifecycle,
    private readonly config: AppConfig,
    private readonly admission: Admission,
    private readonly features: FeatureCatalogue,
    private readonly models: ModelCatalogue,
  ) {}

  async create(key: AuthenticatedKey, body: CreatePredictionBody, opts: { waitSeconds: number | null; cancelAfterMs?: number }): Promise<CreateResult> {
    // A version is pinned with `version` or in the name (`"ocr-line@1"`); without one the feature's default version runs.
    const feature = this.features.find(body.feature, body.version);
    if (!feature) {
      const ref = parseFeatureRef(body.feature);
      const version = ref.version ?? body.version;
      if (ref.version !== undefined && body.version !== undefined && ref.version !== body.version) {
        throw validationProblem('request body', [{ path: '/version', message: `must agree with the version in feature ("${ref.version}")` }]);
      }
      const known = this.features.versions(ref.name).map((f) => f.version);
      throw new ProblemError(
        'feature_not_found',
        `No feature "${ref.name}"${version ? ` at version ${version}` : ''}.${known.length > 0 ? ` Its versions: ${known.join(', ')}.` : ''} GET /v1/features lists them.`,
      );
    }
    validateFeatureInput(feature, body.input);
    const hookProblem = body.webhook !== undefined ? webhookUrlProblem(body.webhook, this.config.env.WEBHOOK_ALLOW_HTTP) : null;
    if (hookProblem) throw validationProblem('request body', [{ path: '/webhook', message: hookProblem }]);
    const models = featureModels(feature);
    const pool = poolOf(this.models, models);
    if (pool === undefined) {
      throw new ProblemError('model_unavailable', `Feature "${feature.name}" has no model pool to run on.`, { headers: { 'retry-after': '30' } });
    }

    const { record, quota } = await this.admission.admit(key, estimateUnits(feature.price), (opts.waitSeconds ?? 0) * 1000, async (id) =>
      (
        await this.lifecycle.submit(
          { orgId: key.orgId, apiKeyId: key.keyId, mode: key.mode, priority: key.queuePriority },
          {
            feature: feature.name,
            featureVersion: feature.version,
            pool,
            models,
            spec: { kind: 'feature' },
            input: body.input,
            ...(opts.cancelAfterMs !== undefined ? { cancelAfterMs: opts.cancelAfterMs } : {}),
            ...(body.webhook ? { webhook: body.webhook } : {}),
            ...(body.webhook_events_filter ? { webhookEventsFilter: body.webhook_events_filter } : {}),
            id,
          },
          { waitMs: opts.waitSeconds !== null ? opts.waitSeconds * 1000 : null },
        )
      ).record,
    );
    return { prediction: this.view(record), finished: isTerminal(record.status), quota };
  }

  /** `Cancel-After` in ms (at most the prediction deadline), undefined when absent; 400 naming the header when malformed. */
  parseCancelAfter(header: string | undefined): number | undefined {
    return parseCancelAfter(header, this.config.env.PREDICTION_DEADLINE_SECONDS * 1000);
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
    if (isTerminal(row.status)) return this.view(row);
    const after = await this.lifecycle.cancel({ orgId: key.orgId, mode: key.mode }, id, new Date());
    // Null: it finished meanwhile; answer with what it became.
    return this.view(after ?? (await this.mustFind(key, id)));
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

import { Injectable } from '@nestjs/common';
import type { AuthenticatedKey } from '#platform/api-keys';
import { AppConfig } from '#infra/config';
import { PROBLEM_CODES, ProblemError, type ProblemCode } from '#infra/errors';
import { Readiness } from '#infra/http';
import { modelMetadata, parseInferRequest, toWire, v2Error, type V2InferResponse, type V2ModelMetadata, type V2ResponseTensor } from '#model-service/inference-protocol';
import { ModelRegistry, PLATFORM_NAMESPACE, TENANT_POOL, type RegisteredModel, type RegisteredVersion } from '#model-service/model-registry';
import type { ModelSignature } from '#model-service/tensors';
import { versionReady } from '../models/models.controller.js';
import { PredictionLifecycle, isTerminal } from '#platform/predictions';
import { Admission } from '../admission.js';

/** Most tensor elements (over all inputs) one infer request may carry; past it: 413. */
/** How long an infer request waits for its result by default (seconds). */
export const V2_DEFAULT_WAIT_SECONDS = 60;

export interface ResolvedModel {
  model: RegisteredModel;
  version: RegisteredVersion;
  signature: ModelSignature;
}

/** Ready: a live worker holds the version warm, or (uploads, loaded on demand) a live worker serves the tenant pool. */
export interface ReadyState {
  ready: boolean;
  warmWorkers: number;
  onDemandWorkers: number;
}

/**
 * The Open Inference Protocol (KServe v2) on top of the predictions machinery: a v2 infer is a
 * prediction (feature `model:<name>`, 1 `call`) run as a tensor job on the model's pool.
 */
@Injectable()
export class V2Service {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly lifecycle: PredictionLifecycle,
    private readonly readiness: Readiness,
    readonly config: AppConfig,
    private readonly admission: Admission,
  ) {}

  /** The model (the org's own or the platform's) and the version asked for (its default otherwise); 404 with `error` when unknown. */
  async resolve(key: AuthenticatedKey, name: string, version?: string): Promise<ResolvedModel> {
    const model = await this.registry.get(key.orgId, name);
    const shown = JSON.stringify(name.slice(0, 100));
    if (!model) throw v2Error('model_not_found', `Model ${shown} is not found.`);
    const wanted = version ?? model.defaultVersion ?? model.versions.at(-1)?.version;
    const v = model.versions.find((x) => x.version === wanted);
    if (!v) {
      throw v2Error('model_not_found', version !== undefined ? `Version ${JSON.stringify(version.slice(0, 64))} of model ${shown} is not found.` : `Model ${shown} has no version to serve.`);
    }
    return { model, version: v, signature: { inputs: v.inputs, outputs: v.outputs } };
  }

  async metadata(key: AuthenticatedKey, name: string, version?: string): Promise<V2ModelMetadata> {
    const r = await this.resolve(key, name, version);
    return modelMetadata(r.model.name, r.model.versions.map((v) => v.version), r.signature);
  }

  async readyState(r: ResolvedModel): Promise<ReadyState> {
    const onDemandWorkers = r.model.pool === TENANT_POOL ? await this.registry.poolWorkers(TENANT_POOL) : 0;
    return { ready: versionReady(r.model.pool, r.version.warmWorkers, onDemandWorkers), warmWorkers: r.version.warmWorkers, onDemandWorkers };
  }

  /**
   * Server readiness for probes (no key): Postgres and Redis reachable, and some live worker
   * holds a model warm or serves the tenant pool. Only the verdict; the reasons are on the admin listener.
   */
  async serverReady(): Promise<boolean> {
    const deps = await this.readiness.evaluate();
    if (!deps.ready) return false;
    const platform = await this.registry.list(PLATFORM_NAMESPACE);
    if (platform.some((m) => m.versions.some((v) => v.warmWorkers > 0))) return true;
    return (await this.registry.poolWorkers(TENANT_POOL)) > 0;
  }

  /**
   * Validates the request against the version's signature (422/413 before anything is
   * enqueued), creates the prediction, enqueues the tensor job and waits for it.
   */
  async infer(key: AuthenticatedKey, name: string, version: string | undefined, body: unknown, waitSeconds: number): Promise<{ response: V2InferResponse; predictionId: string }> {
    const r = await this.resolve(key, name, version);
    const parsed = parseInferRequest(body, r.signature, { maxElements: this.config.env.V2_MAX_ELEMENTS });
    const inputs = toWire(parsed.feeds);
    // A model call is 1 unit.
    const { record: row } = await this.admission.admit(key, 1, waitSeconds * 1000, async (predictionId) =>
      (
        await this.lifecycle.submit(
          { orgId: key.orgId, apiKeyId: key.keyId, mode: key.mode, priority: key.queuePriority },
          {
            feature: `model:${r.model.name}`,
            featureVersion: r.version.version,
            pool: r.model.pool,
            models: [{ name: r.model.name, version: r.version.version }],
            spec: {
              kind: 'tensor',
              model: { namespace: r.model.namespace, name: r.model.name, version: r.version.version, artifactUri: r.version.artifactUri, sha256: r.version.sha256, config: r.version.config },
              outputs: parsed.outputs,
            },
            input: { ...(parsed.id !== null ? { id: parsed.id } : {}), inputs, outputs: parsed.outputs },
            id: predictionId,
          },
          { waitMs: waitSeconds * 1000 },
        )
      ).record,
    );
    const id = row.id;
    if (!isTerminal(row.status)) {
      const message = `The inference did not finish within ${waitSeconds} s; it goes on as prediction ${id} (GET /v1/predictions/${id}).`;
      throw new ProblemError('prediction_timeout', message, { extensions: { prediction_id: id }, headers: { location: `${this.config.publicBaseUrl}/v1/predictions/${id}` } });
    }
    if (row.status !== 'succeeded') {
      const err = (row.error ?? {}) as { code?: string; message?: string };
      const code: ProblemCode = err.code !== undefined && err.code in PROBLEM_CODES ? (err.code as ProblemCode) : row.status === 'canceled' ? 'conflict' : 'internal_error';
      const message = row.status === 'canceled' ? 'The inference was canceled.' : (err.message ?? 'The inference failed.');
      throw new ProblemError(code, message, { extensions: { prediction_id: id } });
    }
    const output = row.output as { outputs?: V2ResponseTensor[] } | null;
    return {
      predictionId: id,
      response: { model_name: r.model.name, model_version: r.version.version, id: parsed.id ?? id, outputs: output?.outputs ?? [] },
    };
  }
}

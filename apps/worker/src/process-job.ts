import { UnrecoverableError } from 'bullmq';
import { isProblemError } from '#infra/errors';
import { findFeature } from '#feature-engine/feature-catalogue';
import { runPipeline } from '#feature-engine/features';
import { encodeOutputs, fromWire } from '#model-service/inference-protocol';
import type { ModelRef, ModelRunner } from '#model-service/tensors';
import type { PredictionEvents, PredictionMetrics, PredictionsRepository } from '#platform/predictions';
import { isTensorJob, type FeatureJobData, type InferenceJobData, type TensorJobData, type TensorJobModel } from '#infra/queue';
import type { JobBatchFacts } from './batching/batching-runner.js';

export interface JobContext {
  data: InferenceJobData;
  /** Attempts already made before this one (BullMQ's attemptsMade). */
  attemptsMade: number;
  maxAttempts: number;
}

export interface JobDeps {
  repo: Pick<PredictionsRepository, 'markProcessing' | 'succeed' | 'fail'>;
  events: Pick<PredictionEvents, 'publishFinished'>;
  runner: ModelRunner;
  /** The batching facts of this job's model calls (a JobRunner's); absent: batch 1, no batch wait. */
  batchFacts?: () => Pick<JobBatchFacts, 'batchSize' | 'batchQueueMs'>;
  /** Resolves a tensor job's model to the ref the runner knows (loading an uploaded version on demand). */
  models?: ModelLeases;
  now?: () => Date;
}

export interface ModelLeases {
  acquire(model: TensorJobModel): Promise<{ ref: ModelRef; release: () => void }>;
}

/** The usage event's feature for a tensor call on a model (billed 1 `call`). */
export function modelFeatureName(model: string): string {
  return `model:${model}`;
}

export type JobOutcome = 'succeeded' | 'failed' | 'skipped';

/**
 * Runs one inference job: starting → processing → succeeded (with its usage event, in
 * one transaction) or failed. Bad input fails at once and is never retried; an
 * unexpected error is retried by BullMQ and recorded as failed on the last attempt.
 */
export async function processInferenceJob(job: JobContext, deps: JobDeps): Promise<JobOutcome> {
  return isTensorJob(job.data) ? processTensorJob({ ...job, data: job.data }, deps) : processFeatureJob({ ...job, data: job.data }, deps);
}

/** What both kinds of job share once they have started: the clock, the timings and the "finished" signal. */
interface StartedJob {
  now: () => Date;
  scope: { orgId: string };
  timings: (end: Date) => PredictionMetrics;
  finish: () => Promise<void>;
}

/** Marks the prediction processing; null when another worker (or a cancel) got there first. */
async function startJob(data: InferenceJobData, deps: JobDeps): Promise<StartedJob | null> {
  const now = deps.now ?? (() => new Date());
  const scope = { orgId: data.orgId };
  const startedAt = now();
  if (!(await deps.repo.markProcessing(scope, data.predictionId, startedAt))) return null;
  const queueTimeMs = Math.max(0, startedAt.getTime() - data.enqueuedAt);
  const t0 = performance.now();
  return {
    now,
    scope,
    timings: (end) => {
      // Queue time = BullMQ wait + the wait for companions in the batcher; predict time is the rest.
      const batch = deps.batchFacts?.() ?? { batchSize: 1, batchQueueMs: 0 };
      return {
        queue_time_ms: round(queueTimeMs + batch.batchQueueMs),
        predict_time_ms: round(Math.max(0, performance.now() - t0 - batch.batchQueueMs)),
        total_time_ms: Math.max(0, end.getTime() - data.enqueuedAt),
        batch_size: batch.batchSize,
      };
    },
    finish: async () => {
      await deps.events.publishFinished(data.predictionId).catch(() => undefined);
    },
  };
}

async function processFeatureJob(job: JobContext & { data: FeatureJobData }, deps: JobDeps): Promise<JobOutcome> {
  const { data } = job;
  const started = await startJob(data, deps);
  if (!started) return 'skipped';
  const { now, scope, timings, finish } = started;
  const feature = findFeature(data.feature.name, data.feature.version);
  if (!feature) {
    await deps.repo.fail(scope, data.predictionId, { code: 'feature_not_found', message: `feature ${data.feature.name}@${data.feature.version} is not served here` }, null, now());
    await finish();
    throw new UnrecoverableError('unknown feature');
  }
  try {
    const result = await runPipeline(feature, data.input, deps.runner);
    const completedAt = now();
    await deps.repo.succeed(
      scope,
      data.predictionId,
      {
        output: result.output,
        metrics: timings(completedAt),
        models: result.models.map((m) => ({ name: m.name, version: m.version })),
        usage: { apiKeyId: data.apiKeyId, feature: feature.name, units: result.units, unitType: result.unitType, mode: data.mode },
      },
      completedAt,
    );
    await finish();
    return 'succeeded';
  } catch (e) {
    const metrics = timings(now());
    if (isProblemError(e) && e.status < 500) {
      await deps.repo.fail(scope, data.predictionId, { code: e.code, message: e.detail }, metrics, now());
      await finish();
      throw new UnrecoverableError(e.detail);
    }
    if (job.attemptsMade + 1 >= job.maxAttempts) {
      // A model that no worker could load is an availability problem, not a bad input.
      const error =
        isProblemError(e) && e.code === 'model_unavailable'
          ? { code: 'model_unavailable', message: 'The model is not available on the workers that took this job.' }
          : { code: 'prediction_failed', message: 'The model failed to run this input.' };
      await deps.repo.fail(scope, data.predictionId, error, metrics, now());
      await finish();
    }
    throw e;
  }
}

/**
 * A tensor job (Open Inference Protocol): the model through the shared runner (so it is
 * batched with everything else), the outputs asked for stored as v2 tensors, 1 `call`
 * billed on success. A model that throws at run time fails this prediction at once with
 * `model_error` (the input will not run better on a retry); a model no worker could load
 * is retried and then fails with `model_unavailable`.
 */
async function processTensorJob(job: JobContext & { data: TensorJobData }, deps: JobDeps): Promise<JobOutcome> {
  const { data } = job;
  const started = await startJob(data, deps);
  if (!started) return 'skipped';
  const { now, scope, timings, finish } = started;
  const failNow = async (error: { code: string; message: string }) => {
    await deps.repo.fail(scope, data.predictionId, error, timings(now()), now());
    await finish();
    return new UnrecoverableError(error.message);
  };
  const served = { name: data.model.name, version: data.model.version };

  let lease: { ref: ModelRef; release: () => void };
  try {
    lease = deps.models ? await deps.models.acquire(data.model) : { ref: served, release: () => undefined };
  } catch (e) {
    if (job.attemptsMade + 1 >= job.maxAttempts) {
      const message = isProblemError(e) && e.code === 'model_unavailable' ? e.detail : 'The model could not be loaded.';
      await deps.repo.fail(scope, data.predictionId, { code: 'model_unavailable', message }, timings(now()), now());
      await finish();
    }
    throw e;
  }
  let outputs;
  try {
    outputs = await deps.runner.run(lease.ref, fromWire(data.inputs));
  } catch (e) {
    if (isProblemError(e) && e.code === 'model_unavailable') {
      if (job.attemptsMade + 1 >= job.maxAttempts) {
        await deps.repo.fail(scope, data.predictionId, { code: 'model_unavailable', message: 'The model is not available on the workers that took this job.' }, timings(now()), now());
        await finish();
      }
      throw e;
    }
    if (isProblemError(e) && e.status < 500) throw await failNow({ code: e.code, message: e.detail });
    throw await failNow({ code: 'model_error', message: `The model failed on this input: ${clip(e instanceof Error ? e.message : String(e))}` });
  } finally {
    lease.release();
  }
  let encoded;
  try {
    encoded = encodeOutputs(outputs, data.outputs);
  } catch (e) {
    throw await failNow({ code: 'model_error', message: `The model's outputs could not be encoded: ${clip(e instanceof Error ? e.message : String(e))}` });
  }
  const completedAt = now();
  await deps.repo.succeed(
    scope,
    data.predictionId,
    {
      output: { outputs: encoded },
      metrics: timings(completedAt),
      models: [served],
      usage: { apiKeyId: data.apiKeyId, feature: modelFeatureName(data.model.name), units: 1, unitType: 'call', mode: data.mode },
    },
    completedAt,
  );
  await finish();
  return 'succeeded';
}

/** onnxruntime's messages can be long (whole node dumps): keep the start. */
function clip(message: string): string {
  const one = message.replace(/\s+/g, ' ').trim();
  return one.length > 500 ? `${one.slice(0, 500)}…` : one;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

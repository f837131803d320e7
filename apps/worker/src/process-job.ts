import { UnrecoverableError } from 'bullmq';
import { isProblemError } from '#infra/errors';
import { builtinFeatureCatalogue, type FeatureCatalogue } from '#feature-engine/feature-catalogue';
import { runPipeline } from '#feature-engine/features';
import { encodeOutputs, fromWire } from '#model-service/inference-protocol';
import type { ModelRef, ModelRunner } from '#model-service/tensors';
import { decideFailure, DEFAULT_FAILURE, type PredictionError, type PredictionLifecycle, type PredictionMetrics, type Success } from '#platform/predictions';
import { isTensorJob, type FeatureJobData, type InferenceJobData, type JobTensor, type TensorJobData, type TensorJobModel } from '#infra/queue';
import type { JobBatchFacts } from './batching/batching-runner.js';

export interface JobContext {
  data: InferenceJobData;
  /** Attempts already made before this one (BullMQ's attemptsMade). */
  attemptsMade: number;
  maxAttempts: number;
}

export interface JobDeps {
  lifecycle: Pick<PredictionLifecycle, 'start' | 'succeed' | 'fail'>;
  runner: ModelRunner;
  /** The batching facts of this job's model calls (a JobRunner's); absent: batch 1, no batch wait. */
  batchFacts?: () => Pick<JobBatchFacts, 'batchSize' | 'batchQueueMs'>;
  /** Resolves a tensor job's model to the ref the runner knows (loading an uploaded version on demand). */
  models?: ModelLeases;
  /** The features this worker serves (loaded at start-up); the built-in ones when absent (tests). */
  features?: FeatureCatalogue;
  /** The sha256 of the artifact this worker loaded for a model version (recorded with the prediction). */
  modelDigest?: (ref: ModelRef) => string | null | undefined;
  now?: () => Date;
}

export interface ModelLeases {
  acquire(model: TensorJobModel): Promise<{ ref: ModelRef; release: () => void }>;
}

export type JobOutcome = 'succeeded' | 'failed' | 'skipped';

/** An error of a run, with what to record when it is final (see decideFailure). */
class RunFailure extends Error {
  constructor(
    readonly fallback: PredictionError & { retryable: boolean },
    override readonly cause: unknown,
  ) {
    super(fallback.message);
  }
}

/**
 * Runs one inference job through the lifecycle: start (reads the input from Postgres) →
 * succeed (its units go out in `prediction.succeeded`) or fail. Whether a failure is final
 * or retried is decided in one place (decideFailure); a prediction canceled while its model
 * ran stays canceled and unbilled (succeed refuses it).
 */
export async function processInferenceJob(job: JobContext, deps: JobDeps): Promise<JobOutcome> {
  const { data } = job;
  const now = deps.now ?? (() => new Date());
  const scope = { orgId: data.orgId };
  const startedAt = now();
  const started = await deps.lifecycle.start(scope, data.predictionId, job.attemptsMade + 1, startedAt);
  if (!started) return 'skipped';
  const queueTimeMs = Math.max(0, startedAt.getTime() - data.enqueuedAt);
  const t0 = performance.now();
  let steps: Record<string, number> | undefined;
  const timings = (end: Date): PredictionMetrics => {
    // Queue time = BullMQ wait + the wait for companions in the batcher; predict time is the rest.
    const batch = deps.batchFacts?.() ?? { batchSize: 1, batchQueueMs: 0 };
    return {
      queue_time_ms: round(queueTimeMs + batch.batchQueueMs),
      predict_time_ms: round(Math.max(0, performance.now() - t0 - batch.batchQueueMs)),
      total_time_ms: Math.max(0, end.getTime() - data.enqueuedAt),
      batch_size: batch.batchSize,
      ...(steps ? { steps_ms: steps } : {}),
    };
  };
  let result: Omit<Success, 'metrics'>;
  try {
    result = isTensorJob(data) ? await runTensorJob(data, started.input, deps) : await runFeatureJob(data, started.input, deps, (s) => (steps = s));
  } catch (e) {
    const cause = e instanceof RunFailure ? e.cause : e;
    const decision = decideFailure(cause, job, e instanceof RunFailure ? e.fallback : DEFAULT_FAILURE);
    if (decision.action === 'retry') throw cause;
    await deps.lifecycle.fail(scope, data.predictionId, decision.error, timings(now()), now());
    // Attempts exhausted: the queue fails the job with the real error; a final failure is never retried.
    throw decision.exhausted ? cause : new UnrecoverableError(decision.error.message);
  }
  const completedAt = now();
  return (await deps.lifecycle.succeed(scope, data.predictionId, { ...result, metrics: timings(completedAt) }, completedAt)) ? 'succeeded' : 'skipped';
}

async function runFeatureJob(data: FeatureJobData, input: unknown, deps: JobDeps, onSteps: (steps: Record<string, number>) => void): Promise<Omit<Success, 'metrics'>> {
  const feature = (deps.features ?? builtinFeatureCatalogue()).find(data.feature.name, data.feature.version);
  if (!feature) {
    const message = `feature ${data.feature.name}@${data.feature.version} is not served here`;
    throw new RunFailure({ code: 'feature_not_found', message, retryable: false }, new Error(message));
  }
  let result;
  try {
    result = await runPipeline(feature, input, deps.runner);
    onSteps(result.steps);
  } catch (e) {
    // A RangeError (stack or size exhausted by the input; the pipeline wraps a node's errors)
    // comes back on every attempt: fail at once.
    if (e instanceof RangeError || (isProblemError(e) && e.cause instanceof RangeError)) throw new RunFailure({ code: 'invalid_input', message: 'The input could not be processed (too large or too deeply nested).', retryable: false }, e);
    throw e;
  }
  // The audit trail: which model artifacts (by sha256) answered, with the feature version of the job.
  return { output: result.output, models: result.models.map((m) => withDigest(m, deps)), units: result.units, unitType: result.unitType };
}

function withDigest(m: ModelRef, deps: JobDeps): { name: string; version: string; sha256?: string } {
  const sha256 = deps.modelDigest?.(m);
  return sha256 ? { name: m.name, version: m.version, sha256 } : { name: m.name, version: m.version };
}

/**
 * A tensor job (Open Inference Protocol): the model through the shared runner (so it is
 * batched with everything else), the outputs asked for stored as v2 tensors, 1 `call`
 * billed on success. A model that throws at run time fails this prediction at once with
 * `model_error` (the input will not run better on a retry); a model no worker could load
 * is retried and then fails with `model_unavailable`.
 */
async function runTensorJob(data: TensorJobData, input: unknown, deps: JobDeps): Promise<Omit<Success, 'metrics'>> {
  const served = { name: data.model.name, version: data.model.version };
  let lease: { ref: ModelRef; release: () => void };
  try {
    lease = deps.models ? await deps.models.acquire(data.model) : { ref: served, release: () => undefined };
  } catch (e) {
    throw new RunFailure({ code: 'model_unavailable', message: isProblemError(e) && e.code === 'model_unavailable' ? e.detail : 'The model could not be loaded.', retryable: true }, e);
  }
  let outputs;
  try {
    const inputs = (input as { inputs?: Record<string, JobTensor> } | null)?.inputs;
    if (!inputs) throw new Error('the prediction has no stored tensors');
    outputs = await deps.runner.run(lease.ref, fromWire(inputs));
  } catch (e) {
    throw new RunFailure({ code: 'model_error', message: `The model failed on this input: ${clip(e instanceof Error ? e.message : String(e))}`, retryable: false }, e);
  } finally {
    lease.release();
  }
  let encoded;
  try {
    encoded = encodeOutputs(outputs, data.outputs);
  } catch (e) {
    throw new RunFailure({ code: 'model_error', message: `The model's outputs could not be encoded: ${clip(e instanceof Error ? e.message : String(e))}`, retryable: false }, e);
  }
  const sha256 = deps.modelDigest?.(lease.ref);
  return { output: { outputs: encoded }, models: [sha256 ? { ...served, sha256 } : served], units: 1, unitType: 'call' };
}

/** onnxruntime's messages can be long (whole node dumps): keep the start. */
function clip(message: string): string {
  const one = message.replace(/\s+/g, ' ').trim();
  return one.length > 500 ? `${one.slice(0, 500)}…` : one;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

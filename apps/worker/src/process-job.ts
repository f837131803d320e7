import { UnrecoverableError } from 'bullmq';
import { isProblemError } from '#libs/errors';
import { findFeature, runPipeline } from '#libs/features';
import type { ModelRunner } from '#libs/models';
import type { PredictionEvents, PredictionMetrics, PredictionsRepository } from '#libs/predictions';
import type { InferenceJobData } from '#libs/queue';

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
  now?: () => Date;
}

export type JobOutcome = 'succeeded' | 'failed' | 'skipped';

/**
 * Runs one inference job: starting → processing → succeeded (with its usage event, in
 * one transaction) or failed. Bad input fails at once and is never retried; an
 * unexpected error is retried by BullMQ and recorded as failed on the last attempt.
 */
export async function processInferenceJob(job: JobContext, deps: JobDeps): Promise<JobOutcome> {
  const now = deps.now ?? (() => new Date());
  const { data } = job;
  const scope = { orgId: data.orgId };
  const startedAt = now();
  if (!(await deps.repo.markProcessing(scope, data.predictionId, startedAt))) return 'skipped';

  const queueTimeMs = Math.max(0, startedAt.getTime() - data.enqueuedAt);
  const finish = async () => {
    await deps.events.publishFinished(data.predictionId).catch(() => undefined);
  };
  const feature = findFeature(data.feature.name, data.feature.version);
  if (!feature) {
    await deps.repo.fail(scope, data.predictionId, { code: 'feature_not_found', message: `feature ${data.feature.name}@${data.feature.version} is not served here` }, null, now());
    await finish();
    throw new UnrecoverableError('unknown feature');
  }
  const t0 = performance.now();
  const timings = (end: Date): PredictionMetrics => ({
    queue_time_ms: queueTimeMs,
    predict_time_ms: round(performance.now() - t0),
    total_time_ms: Math.max(0, end.getTime() - data.enqueuedAt),
    batch_size: 1,
  });
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
      await deps.repo.fail(scope, data.predictionId, { code: 'prediction_failed', message: 'The model failed to run this input.' }, metrics, now());
      await finish();
    }
    throw e;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

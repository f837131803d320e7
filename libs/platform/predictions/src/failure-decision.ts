import { isProblemError } from '#infra/errors';

export interface PredictionError {
  code: string;
  message: string;
}

/**
 * What to do when a run throws: fail the prediction now (`exhausted`: because this was the
 * last attempt of a retryable failure), or let the queue retry the job.
 */
export type FailureDecision = { action: 'fail'; error: PredictionError; exhausted: boolean } | { action: 'retry'; error: PredictionError };

/**
 * The one retry decision of the lifecycle. Client errors (bad input: 4xx problems) fail at
 * once and are never retried; an unavailable model or an unexpected error is retried until
 * the last attempt, which fails the prediction. `fallback` is the error recorded for an
 * unexpected failure (e.g. `model_error` for a tensor job whose model threw on its input,
 * which `retryable: false` fails at once).
 */
export function decideFailure(e: unknown, attempt: { attemptsMade: number; maxAttempts: number }, fallback: PredictionError & { retryable?: boolean } = DEFAULT_FAILURE): FailureDecision {
  const last = attempt.attemptsMade + 1 >= attempt.maxAttempts;
  if (isProblemError(e) && e.status < 500) return { action: 'fail', error: { code: e.code, message: e.detail }, exhausted: false };
  if (isProblemError(e) && e.code === 'model_unavailable') {
    const error = { code: 'model_unavailable', message: 'The model is not available on the workers that took this job.' };
    return last ? { action: 'fail', error, exhausted: true } : { action: 'retry', error };
  }
  const error = { code: fallback.code, message: fallback.message };
  if (fallback.retryable === false) return { action: 'fail', error, exhausted: false };
  return last ? { action: 'fail', error, exhausted: true } : { action: 'retry', error };
}

export const DEFAULT_FAILURE: PredictionError = { code: 'prediction_failed', message: 'The model failed to run this input.' };

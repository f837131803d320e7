/**
 * The inference job: its name, its data type and its queue naming in one file.
 * One BullMQ queue per model pool; the job id is the prediction id, which is also the
 * usage event id, so a retried or duplicated job can never be billed twice.
 */
export const INFERENCE_JOB_NAME = 'predict' as const;

export type KeyMode = 'live' | 'test';

export interface InferenceJobData {
  /** Prediction id = job id = usage event id. */
  predictionId: string;
  orgId: string;
  apiKeyId: string;
  mode: KeyMode;
  feature: { name: string; version: string };
  models: { name: string; version: string }[];
  input: unknown;
  /** BullMQ priority from the organization's plan (1 = highest). */
  priority: number;
  idempotencyKey?: string;
  webhook?: string;
  /** ms since epoch, when the gateway enqueued it (queue time = start - this). */
  enqueuedAt: number;
}

/** Retries for transient failures (a worker dying mid-job); bad input is never retried. */
export const INFERENCE_ATTEMPTS = 3;

const POOL = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function inferenceQueueName(pool: string): string {
  if (!POOL.test(pool)) throw new Error(`invalid pool name "${pool}"`);
  return `inference-${pool}`;
}

export function isValidPoolName(pool: string): boolean {
  return POOL.test(pool);
}

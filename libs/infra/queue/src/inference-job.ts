/**
 * The inference job: its name, its data type and its queue naming in one file.
 * One BullMQ queue per model pool; the job id is the prediction id, which is also the
 * usage event id, so a retried or duplicated job can never be billed twice. Jobs carry ids
 * and what to run, never inputs: the worker reads the input from Postgres (the record of
 * truth), so a job is a few hundred bytes whatever the input's size.
 */
export const INFERENCE_JOB_NAME = 'predict' as const;

export type KeyMode = 'live' | 'test';

/** What every inference job carries, whatever it runs. */
export interface InferenceJobBase {
  /** Prediction id = job id = usage event id. */
  predictionId: string;
  orgId: string;
  apiKeyId: string;
  mode: KeyMode;
  /** The model versions the job runs (metrics, "served by"). */
  models: { name: string; version: string }[];
  /** BullMQ priority from the organization's plan (1 = highest). */
  priority: number;
  /** ms since epoch, when the prediction was accepted (queue time = start - this). */
  enqueuedAt: number;
}

/** A feature job: runs a Feature Engine pipeline on the prediction's JSON input. */
export interface FeatureJobData extends InferenceJobBase {
  kind: 'feature';
  feature: { name: string; version: string };
}

/** One tensor of a tensor job, as JSON: flat row-major data (int64 as safe integers, bool as 0/1). */
export interface JobTensor {
  dtype: 'float32' | 'int64' | 'int32' | 'uint8' | 'bool';
  dims: number[];
  data: number[];
}

/** The model a tensor job runs: where its bytes are, so a worker can load an uploaded version on demand. */
export interface TensorJobModel {
  /** "platform" or the owning organization's id. */
  namespace: string;
  name: string;
  version: string;
  /** The registry's artifact URI (`storage:sha256/….onnx` for uploads) and its sha256 (checked on load). */
  artifactUri: string;
  sha256: string;
  /** The registry's version config (batching policy…), for versions loaded on demand. */
  config?: Record<string, unknown>;
}

/** A tensor job (Open Inference Protocol): runs one model on the prediction's validated tensors (`{ inputs: Record<string, JobTensor> }`). */
export interface TensorJobData extends InferenceJobBase {
  kind: 'tensor';
  model: TensorJobModel;
  /** Output names to keep (all when null). */
  outputs: string[] | null;
}

export type InferenceJobData = FeatureJobData | TensorJobData;

export function isTensorJob(data: InferenceJobData): data is TensorJobData {
  return data.kind === 'tensor';
}

/** Retries for transient failures (a worker dying mid-job); bad input is never retried. */
export const INFERENCE_ATTEMPTS = 3;

/** Finished jobs kept in Redis, bounded by count and age (the prediction in Postgres is the record). */
export const KEEP_COMPLETED = { age: 600, count: 1_000 } as const;
export const KEEP_FAILED = { age: 3_600, count: 1_000 } as const;

const POOL = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function inferenceQueueName(pool: string): string {
  if (!POOL.test(pool)) throw new Error(`invalid pool name "${pool}"`);
  return `inference-${pool}`;
}

export function isValidPoolName(pool: string): boolean {
  return POOL.test(pool);
}

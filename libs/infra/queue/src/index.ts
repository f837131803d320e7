export { INFERENCE_JOB_NAME, INFERENCE_ATTEMPTS, KEEP_COMPLETED, KEEP_FAILED, inferenceQueueName, isValidPoolName, isTensorJob, type InferenceJobData, type InferenceJobBase, type FeatureJobData, type TensorJobData, type TensorJobModel, type JobTensor, type KeyMode } from './inference-job.js';
export { fairTag, jobsAheadBound, costOf, planLevel, encodePriority, startOf, rebasedPriority, emptyFairState, BULLMQ_PRIORITY_LIMIT, PLAN_LEVELS, MAX_START, HORIZON, REBASE_AT, DEFAULT_FAIR_LIMITS, FAIR_TAG_LUA, type FairLimits, type FairState, type FairTag } from './fair-share.js';
export { InferenceQueues, COUNTED_STATES, withDeadline, type QueueCounts } from './inference-queues.js';
export { registerQueueDepthGauge, registerArrivalCounter } from './queue-metrics.js';
export { QueueModule, QueueConnection } from './queue.module.js';

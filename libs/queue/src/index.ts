export { INFERENCE_JOB_NAME, INFERENCE_ATTEMPTS, inferenceQueueName, isValidPoolName, type InferenceJobData, type KeyMode } from './inference-job.js';
export { InferenceQueues, COUNTED_STATES, withDeadline, type QueueCounts } from './inference-queues.js';
export { registerQueueDepthGauge } from './queue-metrics.js';
export { QueueModule } from './queue.module.js';

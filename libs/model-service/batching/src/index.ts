// Dynamic batching for the Model Service: the batcher (size/delay policy, per-item
// failure isolation) and the tensor stacking, padding and splitting it needs. Pure.
export { DynamicBatcher, BatchItemError, validatePolicy, type BatchPolicy, type BatchRunner, type BatchResult, type BatchObserver, type ItemOutcome } from './batcher.js';
export { batchKey, stackFeeds, splitOutputs, type Feeds, type PaddingRule, type StackedBatch } from './tensors.js';

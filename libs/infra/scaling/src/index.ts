export {
  decide,
  desiredWorkers,
  assertPolicy,
  recommendationTerms,
  initialScalingState,
  DEFAULT_SCALING_POLICY,
  type PoolLoad,
  type PoolSignals,
  type ScalingPolicy,
  type ScalingState,
  type ScalingDecision,
  type ScalingAction,
  type ScalingReason,
} from './policy.js';
export { parseExposition, poolCounters, histogramQuantile, increase, deltaOf, sumDeltas, type Sample, type PoolCounters, type TargetDelta } from './exposition.js';

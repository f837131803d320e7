export { desiredWorkers, type PoolLoad, type ScalingPolicy } from './policy.js';

/** What the autoscaler sees of one model pool at one instant. */
export interface PoolLoad {
  /** Jobs waiting to start (waiting + prioritized + delayed). */
  backlog: number;
  /** Jobs running now. */
  active: number;
}

export interface ScalingPolicy {
  minWorkers: number;
  maxWorkers: number;
  /** Jobs (waiting + running) one worker is expected to carry. */
  targetPerWorker: number;
}

/**
 * Workers a pool needs: enough that each carries at most `targetPerWorker` jobs
 * (queued or running), clamped to [min, max]. Pure, so it is tested exhaustively
 * and shared by the local and Kubernetes actuators.
 */
export function desiredWorkers(load: PoolLoad, policy: ScalingPolicy): number {
  if (policy.minWorkers > policy.maxWorkers) throw new Error('minWorkers exceeds maxWorkers');
  if (policy.targetPerWorker <= 0) throw new Error('targetPerWorker must be positive');
  const work = Math.max(0, load.backlog) + Math.max(0, load.active);
  const wanted = Math.ceil(work / policy.targetPerWorker);
  return Math.min(policy.maxWorkers, Math.max(policy.minWorkers, wanted));
}

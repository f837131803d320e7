/**
 * What the recovery loop does with an unfinished prediction, given its job's state in the
 * queue. Pure: Postgres is the record of truth, the queue only a delivery mechanism.
 */
export type RecoveryAction =
  /** Past the client's Cancel-After: cancel it (never billed). */
  | 'cancel_deadline'
  /** Past its deadline: fail it with deadline_exceeded. */
  | 'fail_deadline'
  /** Accepted but its job is missing (Redis restarted without persistence, an enqueue failed after commit): enqueue it again. */
  | 'requeue'
  /** The job failed for good without the prediction being failed (its workers died on every attempt): fail it. */
  | 'fail_lost'
  /** The job is recorded as completed but the prediction is unfinished: replace the job. */
  | 'replace'
  /** The job is waiting, delayed or running: nothing to do (a dead worker's job comes back through BullMQ's stalled check). */
  | 'none';

export function recoveryAction(p: { deadlineAt: Date; cancelAt?: Date | null }, jobState: string, now: Date): RecoveryAction {
  if (p.cancelAt && p.cancelAt.getTime() <= now.getTime()) return 'cancel_deadline';
  if (p.deadlineAt.getTime() <= now.getTime()) return 'fail_deadline';
  switch (jobState) {
    case 'unknown':
      return 'requeue';
    case 'failed':
      return 'fail_lost';
    case 'completed':
      return 'replace';
    default:
      return 'none';
  }
}

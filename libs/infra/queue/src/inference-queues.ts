import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ProblemError } from '#infra/errors';
import { DEFAULT_FAIR_LIMITS, FAIR_TAG_LUA, PLAN_LEVELS, planLevel, type FairLimits } from './fair-share.js';
import { INFERENCE_ATTEMPTS, INFERENCE_JOB_NAME, KEEP_COMPLETED, KEEP_FAILED, type InferenceJobData } from './inference-job.js';

/** The fair-share tagging script, defined on the producer connection (ioredis sends EVALSHA, EVAL once on NOSCRIPT). */
type FairTagCommand = (...keysThenArgs: [string, string, string, string, string, string, string, string, number, string, number, number, number, number, string]) => Promise<number>;
const FAIR_TAG_COMMAND = 'stratumFairTag';

const queueUnavailable = (): ProblemError =>
  new ProblemError('queue_unavailable', 'The prediction queue is not reachable right now; retry shortly.', { headers: { 'retry-after': '5' } });

export type QueueCounts = Record<'waiting' | 'prioritized' | 'active' | 'delayed' | 'completed' | 'failed', number>;
export const COUNTED_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'] as const;

/** Bounds a Redis round trip so a Redis outage answers 503 instead of hanging. */
export async function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Producer side of the model-pool queues (gateway, autoscaler, the lifecycle). The queues are
 * @nestjs/bullmq providers registered by QueueModule.forPools; this class adds the job options,
 * the fast 503 when Redis is down, and the per-pool reads.
 */
export class InferenceQueues {
  private readonly fairTagCommand: FairTagCommand;
  private readonly arrivalObservers: Array<(pool: string) => void> = [];

  constructor(
    private readonly connection: Redis,
    private readonly queues: ReadonlyMap<string, Queue<InferenceJobData>>,
    private readonly fairLimits: FairLimits = DEFAULT_FAIR_LIMITS,
  ) {
    const commands = connection as unknown as Record<string, FairTagCommand | undefined>;
    if (!commands[FAIR_TAG_COMMAND]) connection.defineCommand(FAIR_TAG_COMMAND, { numberOfKeys: 7, lua: FAIR_TAG_LUA });
    this.fairTagCommand = (commands[FAIR_TAG_COMMAND] as FairTagCommand).bind(connection);
  }

  /** The registered queue of a pool; an unknown pool is a bug (pools come from the catalogue). */
  queue(pool: string): Queue<InferenceJobData> {
    const q = this.queues.get(pool);
    if (!q) throw new Error(`no queue registered for pool "${pool}" (known: ${[...this.queues.keys()].join(', ')})`);
    return q;
  }

  /** Called once per job added (the arrivals counter: registerArrivalCounter). */
  onArrival(observer: (pool: string) => void): void {
    this.arrivalObservers.push(observer);
  }

  pools(): string[] {
    return [...this.queues.keys()];
  }

  /** Throws 503 queue_unavailable when Redis is not connected (checked before a prediction is stored). */
  assertAvailable(): void {
    if (this.connection.status !== 'ready') throw queueUnavailable();
  }

  /**
   * The job's BullMQ priority: its virtual start in the pool's fair share between
   * organizations, then its plan priority (fair-share.ts; one atomic script call).
   */
  async fairPriority(pool: string, orgId: string, planPriority: number, jobId: string): Promise<number> {
    const q = this.queue(pool);
    return this.fairTagCommand(
      q.toKey('fair'),
      q.toKey('fair-orgs'),
      q.keys.prioritized!,
      q.keys.delayed!,
      q.keys.active!,
      q.toKey('fair-recent'),
      q.toKey('fair-stragglers'),
      orgId,
      planLevel(planPriority),
      q.toKey(''),
      PLAN_LEVELS,
      this.fairLimits.horizon,
      this.fairLimits.rebaseAt,
      this.fairLimits.idleMs,
      jobId,
    );
  }

  /**
   * Adds the job (ids only); the job id is the prediction id, so adding it twice is a no-op.
   * Its BullMQ priority comes from the fair share (the plan priority stays in the job data).
   */
  async enqueue(pool: string, data: InferenceJobData): Promise<void> {
    this.assertAvailable();
    await withDeadline(
      (async () => {
        const priority = await this.fairPriority(pool, data.orgId, data.priority, data.predictionId);
        return this.queue(pool).add(INFERENCE_JOB_NAME, data, {
          jobId: data.predictionId,
          priority,
          attempts: INFERENCE_ATTEMPTS,
          backoff: { type: 'exponential', delay: 500 },
          removeOnComplete: KEEP_COMPLETED,
          removeOnFail: KEEP_FAILED,
        });
      })(),
      2_000,
      queueUnavailable,
    );
    for (const observe of this.arrivalObservers) observe(pool);
  }

  /** The job's state in its queue; 'unknown' when the queue does not hold it (e.g. Redis lost it). */
  async jobState(pool: string, jobId: string): Promise<string> {
    return withDeadline(this.queue(pool).getJobState(jobId), 2_000, queueUnavailable);
  }

  /** Removes a job whatever its state (except active, which BullMQ refuses): used before re-adding a finished one. */
  async removeJob(pool: string, jobId: string): Promise<void> {
    await this.queue(pool).remove(jobId);
  }

  /** Removes a job that no worker has taken yet. Returns false when it already started. */
  async removeIfWaiting(pool: string, jobId: string): Promise<boolean> {
    const job = await this.queue(pool).getJob(jobId);
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'prioritized' && state !== 'delayed') return false;
    await job.remove();
    return true;
  }

  async counts(pool: string): Promise<QueueCounts> {
    const raw = await withDeadline(this.queue(pool).getJobCounts(...COUNTED_STATES), 1_000, () => new Error('redis timed out'));
    const out = {} as QueueCounts;
    for (const s of COUNTED_STATES) out[s] = raw[s] ?? 0;
    return out;
  }
}

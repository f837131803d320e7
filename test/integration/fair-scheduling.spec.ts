// Fair scheduling against the real Redis and real BullMQ workers: the fair-share script tags
// jobs exactly as the reference functions do (rebases included), tenant A's 5,000 queued jobs
// let tenant B's one job start within the stated bound (counted in jobs, not seconds), a
// higher-priority plan's job is taken first, and the backlog stays countable by the autoscaler.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { readProcessEnv } from '#infra/config';
import { BULLMQ_PRIORITY_LIMIT, emptyFairState, fairTag, INFERENCE_JOB_NAME, InferenceQueues, inferenceQueueName, jobsAheadBound, rebasedPriority, type FairLimits, type InferenceJobData } from '#infra/queue';
import { dropRedisPrefix } from '../support/redis.js';

const prefix = `t_fair_${randomBytes(4).toString('hex')}`;
const url = readProcessEnv().REDIS_URL;
const { hostname, port } = new URL(url);
/** Connection options BullMQ owns (and closes with the worker). */
const own = () => ({ host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null });
let redis: Redis;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  redis = new Redis(url, { maxRetriesPerRequest: null });
  await redis.ping();
});

afterAll(async () => {
  for (const q of opened) await q.close();
  await dropRedisPrefix(prefix, redis);
  redis.disconnect();
});

/** InferenceQueues over one fresh pool queue of its own. */
function queuesFor(pool: string, limits?: FairLimits): { queues: InferenceQueues; queue: Queue<InferenceJobData> } {
  const queue = new Queue<InferenceJobData>(inferenceQueueName(pool), { connection: redis, prefix });
  opened.push(queue);
  return { queues: new InferenceQueues(redis, new Map([[pool, queue]]), limits), queue };
}

function job(orgId: string, priority: number): InferenceJobData {
  return { kind: 'feature', predictionId: randomUUID(), orgId, apiKeyId: randomUUID(), mode: 'live', models: [], priority, enqueuedAt: Date.now(), feature: { name: 'f', version: '1' } };
}

/** Enqueues many jobs, 250 in flight at a time (each one script call + one add). */
async function enqueueMany(queues: InferenceQueues, pool: string, jobs: InferenceJobData[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += 250) await Promise.all(jobs.slice(i, i + 250).map((j) => queues.enqueue(pool, j)));
}

/** Starts a real BullMQ worker (concurrency 1) recording the org of every job it starts, until `stopAt` starts. */
async function runUntil(pool: string, stopAt: string): Promise<string[]> {
  const started: string[] = [];
  let reached!: () => void;
  const done = new Promise<void>((resolve) => (reached = resolve));
  const worker = new Worker<InferenceJobData>(
    inferenceQueueName(pool),
    async (j: Job<InferenceJobData>) => {
      started.push(j.data.orgId);
      if (j.id === stopAt) reached();
    },
    { connection: own(), prefix, concurrency: 1 },
  );
  await done;
  await worker.close();
  return started;
}

describe('fair scheduling on the real queue', () => {
  it('the script tags exactly as the reference functions, across rebases, within BullMQ’s limit', async () => {
    const limits = { horizon: 40, rebaseAt: 50, idleMs: 5_000 };
    const pool = 'fair-mirror';
    const { queues, queue } = queuesFor(pool, limits);
    const state = emptyFairState();
    const sim: { id: string; priority: number; seq: number }[] = [];
    let seq = 0;
    const worker = new Worker<InferenceJobData>(inferenceQueueName(pool), null, { connection: own(), prefix });
    opened.push(worker);
    const token = 'mirror';
    const orgs = ['a', 'b', 'c'];
    let rebases = 0;
    for (let step = 0; step < 150; step++) {
      // add two (alternating plans), take one: the head moves, V passes rebaseAt several times
      for (const k of [0, 1]) {
        const d = job(orgs[(step + k) % 3]!, k ? 1 : 10);
        const head = sim.length ? Math.min(...sim.map((s) => s.priority)) : null;
        const tag = fairTag(state, d.orgId, d.priority, { headPriority: head, lastStartedPriority: null, idle: head === null }, limits);
        if (tag.shift) {
          rebases++;
          for (const s of sim) s.priority = rebasedPriority(s.priority, tag.shift);
        }
        sim.push({ id: d.predictionId, priority: tag.priority, seq: seq++ });
        await queues.enqueue(pool, d);
        expect((await queue.getJob(d.predictionId))!.priority).toBe(tag.priority);
      }
      const next = await worker.getNextJob(token);
      if (!next) throw new Error('the queue ran dry');
      sim.sort((x, y) => x.priority - y.priority || x.seq - y.seq);
      const expected = sim.shift()!;
      expect(next.id).toBe(expected.id);
      expect(next.priority).toBe(expected.priority);
      await next.moveToCompleted('ok', token, false);
    }
    expect(rebases).toBeGreaterThanOrEqual(2);
    const left = await queue.getJobs(['prioritized']);
    expect(left.length).toBe(150);
    for (const j of left) expect(j.priority).toBeLessThanOrEqual(BULLMQ_PRIORITY_LIMIT);
  }, 60_000);

  it('a job tagged before a rebase and added after it is lowered like the rest once it lands', async () => {
    const limits = { horizon: 40, rebaseAt: 50, idleMs: 5_000 };
    const pool = 'fair-straggler';
    const { queues, queue } = queuesFor(pool, limits);
    const worker = new Worker<InferenceJobData>(inferenceQueueName(pool), null, { connection: own(), prefix });
    opened.push(worker);
    const rebases = async () => Number((await redis.hget(queue.toKey('fair'), 'rebases')) ?? 0);
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    let straggler: InferenceJobData | undefined;
    let stale = 0;
    let shift = 0;
    for (let i = 0; i < 300 && !shift; i++) {
      // A job of c is tagged (as a gateway does just before its add)…
      const candidate = job(c, 10);
      const tagged = await queues.fairPriority(pool, c, 10, candidate.predictionId);
      const before = await rebases();
      // …then other enqueues move the queue on; when one of them rebases, the candidate is a straggler.
      await queues.enqueue(pool, job(a, 10));
      await queues.enqueue(pool, job(b, 10));
      for (const _ of [1, 2]) {
        const next = await worker.getNextJob('s');
        if (!next) throw new Error('the queue ran dry');
        await next.moveToCompleted('ok', 's', false);
      }
      if ((await rebases()) > before) {
        [straggler, stale] = [candidate, tagged];
        shift = Number(await redis.hget(queue.toKey('fair'), 'shift'));
      }
    }
    if (!straggler) throw new Error('no rebase happened');
    expect(shift).toBeGreaterThan(0);
    // Work queued after the rebase (not the straggler's add yet: it is still in flight).
    await queues.enqueue(pool, job(a, 10));
    await queues.enqueue(pool, job(b, 10));
    // The add lands after the rebase, with the stale priority: behind everything queued.
    await queue.add(INFERENCE_JOB_NAME, straggler, { jobId: straggler.predictionId, priority: stale });
    const others = (await queue.getJobs(['prioritized'])).filter((j) => j.id !== straggler.predictionId);
    expect(others.length).toBe(2);
    expect(others.every((j) => j.priority < stale)).toBe(true);
    // The next tag lowers it as the rebase lowered the others.
    await queues.enqueue(pool, job(a, 10));
    expect((await queue.getJob(straggler.predictionId))!.priority).toBe(rebasedPriority(stale, shift));
    expect(rebasedPriority(stale, shift)).toBeLessThanOrEqual(Math.max(...others.map((j) => j.priority)));
  });

  it('tenant A holds 5,000 queued jobs: tenant B’s one job starts within the bound, counted in jobs', async () => {
    const pool = 'fair-burst';
    const { queues, queue } = queuesFor(pool);
    const [a, b] = [randomUUID(), randomUUID()];
    await enqueueMany(
      queues,
      pool,
      Array.from({ length: 5_000 }, () => job(a, 10)),
    );
    const bJob = job(b, 10);
    await queues.enqueue(pool, bJob);
    // The autoscaler's reading: everything queued is countable.
    const counts = await queues.counts(pool);
    expect(counts.waiting + counts.prioritized + counts.delayed + counts.active).toBe(5_001);
    const started = await runUntil(pool, bJob.predictionId);
    const aBeforeB = started.length - 1;
    expect(started.at(-1)).toBe(b);
    expect(aBeforeB).toBeLessThanOrEqual(jobsAheadBound(10, [10]));
    expect(jobsAheadBound(10, [10])).toBe(2);
    await queue.obliterate({ force: true });
  }, 120_000);

  it('the lowest plan’s B behind a pro A’s burst waits at most ⌊c_B / c_A⌋ + 1 of A’s jobs', async () => {
    const pool = 'fair-weights';
    const { queues, queue } = queuesFor(pool);
    const [a, b] = [randomUUID(), randomUUID()];
    await enqueueMany(
      queues,
      pool,
      Array.from({ length: 2_000 }, () => job(a, 1)),
    );
    const bJob = job(b, 10);
    await queues.enqueue(pool, bJob);
    const started = await runUntil(pool, bJob.predictionId);
    expect(started.length - 1).toBeLessThanOrEqual(jobsAheadBound(10, [1]));
    await queue.obliterate({ force: true });
  }, 60_000);

  it('a higher-priority plan’s job is picked before a lower one’s when both are queued', async () => {
    const pool = 'fair-plans';
    const { queues } = queuesFor(pool);
    const low = job(randomUUID(), 10);
    const high = job(randomUUID(), 1);
    await queues.enqueue(pool, low);
    await queues.enqueue(pool, high);
    const started = await runUntil(pool, low.predictionId);
    expect(started).toEqual([high.orgId, low.orgId]);
  });
});

// Fair scheduling end to end: predictions submitted through the lifecycle (as the gateway does)
// onto the real Redis, run by a real worker process (one job at a time, so the order in which
// predictions start is the order the queue hands them out). Tenant A holds 5,000 queued
// predictions; tenant B's single prediction starts after at most the stated bound of A's
// (jobsAheadBound, counted in predictions started, not in seconds); a higher-priority plan's
// prediction queued at the same time as a lower one's starts first.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { readProcessEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { InferenceQueues, inferenceQueueName, jobsAheadBound, type InferenceJobData } from '#infra/queue';
import { PredictionLifecycle, PredictionsRepository, type Submitter } from '#platform/predictions';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertApiKey, insertOrg } from '../support/keys.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const PEPPER = 'fair-e2e-pepper-'.padEnd(40, 'f');
const POOL = 'ocr';
const prefix = `fair_${randomBytes(3).toString('hex')}`;
const redisUrl = readProcessEnv().REDIS_URL;

let db: TestDatabase;
let redis: Redis;
let queue: Queue<InferenceJobData>;
let lifecycle: PredictionLifecycle;
let worker: RunningApp | undefined;
let image: string;
const who: Record<'a' | 'b' | 'low' | 'high', Submitter> = {} as never;

beforeAll(async () => {
  db = await createTestDatabase('fair_e2e');
  await seedDemo({ prisma: db.prisma, pepper: PEPPER });
  const tenant = async (slug: string, plan: string): Promise<Submitter> => {
    const org = await insertOrg(db.prisma, slug, slug, plan);
    const key = await insertApiKey(db.prisma, PEPPER, org.id);
    const { queuePriority } = await db.prisma.plan.findUniqueOrThrow({ where: { id: org.planId } });
    return { orgId: org.id, apiKeyId: key.id, mode: 'live', priority: queuePriority };
  };
  who.a = await tenant('tenant-a', 'free');
  who.b = await tenant('tenant-b', 'free');
  who.low = await tenant('tenant-low', 'free');
  who.high = await tenant('tenant-high', 'pro');
  redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  await redis.ping(); // connected ('ready'): submit refuses with queue_unavailable before that
  queue = new Queue<InferenceJobData>(inferenceQueueName(POOL), { connection: redis, prefix });
  const queues = new InferenceQueues(redis, new Map([[POOL, queue]]));
  const events = { waitFor: () => ({ done: Promise.resolve(true), cancel: () => undefined }), publishFinished: async () => undefined };
  lifecycle = new PredictionLifecycle(db.prisma, new PredictionsRepository(db.prisma), queues, events as never, { env: { PREDICTION_DEADLINE_SECONDS: 900 } } as never);
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await queue?.close();
  await dropRedisPrefix(prefix, redis);
  redis?.disconnect();
  await db?.drop();
});

async function submit(s: Submitter): Promise<string> {
  const { record } = await lifecycle.submit(
    s,
    { feature: 'image-orientation', featureVersion: '1', pool: POOL, models: [{ name: 'ppocr-cls', version: '1' }], spec: { kind: 'feature' }, input: { image } },
    { waitMs: null },
  );
  return record.id;
}

/** Resolves once the prediction is final in Postgres (the worker ran it). */
async function finished(id: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await db.prisma.prediction.findUniqueOrThrow({ where: { id }, select: { status: true } });
    if (p.status !== 'starting' && p.status !== 'processing') return;
    if (Date.now() > deadline) throw new Error(`prediction ${id} still ${p.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('fair scheduling with a real worker', () => {
  it('A’s 5,000 queued predictions delay B’s one by at most the stated bound; the better plan starts first', async () => {
    // Tenant A's burst, through the lifecycle's submit (25 at a time), before any worker runs.
    const aIds: string[] = [];
    for (let i = 0; i < 5_000; i += 25) aIds.push(...(await Promise.all(Array.from({ length: 25 }, () => submit(who.a)))));
    const b = await submit(who.b);
    const low = await submit(who.low);
    const high = await submit(who.high);
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
    expect((counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0)).toBe(5_003);

    worker = await startApp('worker', {
      DATABASE_URL: db.url,
      DATABASE_SCHEMA: db.schema,
      DATABASE_POOL_SIZE: '2',
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      WORKER_POOLS: POOL,
      WORKER_CONCURRENCY: '1',
      WORKER_BATCHING: 'off',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'test',
    });
    await finished(b);
    await finished(low);
    await worker.stop();
    worker = undefined;

    // The order predictions started in: their prediction.started events, in commit order (one job at a time).
    const started = await db.prisma.predictionEvent.findMany({ where: { type: 'prediction.started' }, orderBy: { seq: 'asc' }, select: { predictionId: true } });
    const order = started.map((e) => e.predictionId);
    const aSet = new Set(aIds);
    const aBeforeB = order.slice(0, order.indexOf(b)).filter((id) => aSet.has(id)).length;
    expect(order).toContain(b);
    expect(aBeforeB).toBeLessThanOrEqual(jobsAheadBound(10, [10]));
    expect(order.indexOf(high)).toBeGreaterThanOrEqual(0);
    expect(order.indexOf(high)).toBeLessThan(order.indexOf(low));
    // What started of A's came from the head of its burst (A's own order is kept).
    const aStarted = order.filter((id) => aSet.has(id));
    for (const id of aStarted) expect(aIds.indexOf(id)).toBeLessThan(25 + aStarted.length);
  }, 240_000);
});

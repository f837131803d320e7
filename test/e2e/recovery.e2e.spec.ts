// Accepted work is never lost, against real processes and a Redis of the test's own:
//  - Redis flushed and restarted without persistence: every accepted prediction still
//    succeeds (the gateway's recovery loop enqueues again what Postgres holds), billed once;
//  - a worker SIGKILLed mid-job: its jobs run again on another worker within
//    WORKER_LOCK_MS + 2 × WORKER_STALLED_CHECK_MS, billed once;
//  - jobs carry ids, not inputs: large undecodable inputs do not grow Redis with their size.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '#infra/db';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { consumerCaughtUp } from '../support/lifecycle.js';
import { freePort, startApp, type RunningApp } from '../support/processes.js';
import { startPrivateRedis, type PrivateRedis } from '../support/redis.js';

const PEPPER = 'recovery-e2e-pepper-'.padEnd(40, 'x');
const LOCK_MS = 3_000;
const STALLED_MS = 1_000;

let db: TestDatabase;
let redis: PrivateRedis;
let gateway: RunningApp;
const workers: RunningApp[] = [];
let key: string;
let image: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase('recovery_e2e');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER });
  key = seeded.testKey.secret!;
  redis = await startPrivateRedis(await freePort());
  env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_URL: redis.url,
    REDIS_PREFIX: `recovery_${randomBytes(3).toString('hex')}`,
    API_KEY_PEPPER: PEPPER,
    WORKER_CONCURRENCY: '4',
    WORKER_POOLS: 'ocr',
    WORKER_LOCK_MS: String(LOCK_MS),
    WORKER_STALLED_CHECK_MS: String(STALLED_MS),
    RECOVERY_INTERVAL_MS: '300',
    RECOVERY_GRACE_MS: '500',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  gateway = await startApp('gateway', env);
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 120_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), ...workers.map((w) => w.stop())]);
  await redis?.stop();
  await db?.drop();
});

async function submit(input: unknown): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/predictions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ feature: 'ocr-line', input }),
  });
  const body = (await res.json()) as { id: string };
  expect(res.status).toBe(202);
  return body.id;
}

/** Polls Postgres (the record of truth) until every prediction is final. */
async function allFinal(ids: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await db.prisma.prediction.count({ where: { id: { in: ids }, status: { in: ['starting', 'processing'] } } });
    if (open === 0) return;
    if (Date.now() > deadline) throw new Error(`${open} of ${ids.length} predictions still unfinished after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function expectSucceededAndBilledOnce(ids: string[]): Promise<void> {
  const statuses = await db.prisma.prediction.groupBy({ by: ['status'], where: { id: { in: ids } }, _count: true });
  expect(statuses.map((s) => [s.status, s._count])).toEqual([['succeeded', ids.length]]);
  await consumerCaughtUp(db.prisma);
  const usage = await db.prisma.usageEvent.groupBy({ by: ['id'], where: { id: { in: ids } }, _count: true });
  expect(usage).toHaveLength(ids.length);
  expect(usage.every((u) => u._count === 1)).toBe(true);
}

describe('accepted work is never lost', () => {
  it('Redis flushed and restarted without persistence: all 50 accepted predictions succeed, each billed once', async () => {
    const ids = await Promise.all(Array.from({ length: 50 }, () => submit({ image })));
    const queued = await redis.client.keys('*');
    expect(queued.length).toBeGreaterThan(0);
    const flushedAt = Date.now();
    await redis.restartEmpty();
    // A worker comes up after the outage; the jobs it gets are the ones recovery enqueued again.
    workers.push(await startApp('worker', env, { timeoutMs: 60_000 }));
    await allFinal(ids, 60_000);
    await expectSucceededAndBilledOnce(ids);
    // Every job that ran was added to the queue after the flush (the first ones were lost).
    for (const id of ids) {
      const added = Number(await redis.client.hget(`${env.REDIS_PREFIX}:inference-ocr:${id}`, 'timestamp'));
      expect(added).toBeGreaterThanOrEqual(flushedAt);
    }
  }, 120_000);

  it('a worker SIGKILLed with jobs in flight: another worker runs them within the lock bound, each billed once', async () => {
    const [first] = workers;
    const ids = await Promise.all(Array.from({ length: 60 }, () => submit({ image })));
    // Kill the only worker as soon as it runs something.
    for (;;) {
      if ((await db.prisma.prediction.count({ where: { id: { in: ids }, status: 'processing' } })) > 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    first!.child.kill('SIGKILL');
    await new Promise((resolve) => first!.child.once('exit', resolve));
    const killedAt = Date.now();
    workers.shift();
    const inFlight = (await db.prisma.prediction.findMany({ where: { id: { in: ids }, status: 'processing' }, select: { id: true } })).map((p) => p.id);
    expect(inFlight.length).toBeGreaterThan(0);
    const second = await startApp('worker', env, { timeoutMs: 60_000 });
    workers.push(second);
    const readyAfter = Date.now() - killedAt;
    await allFinal(ids, 60_000);
    await expectSucceededAndBilledOnce(ids);
    // The jobs the dead worker held ran again within the bound (plus the new worker's start
    // and the time to run the backlog), far below BullMQ's default 30 s lock.
    const bound = readyAfter + LOCK_MS + 2 * STALLED_MS + 8_000;
    const done = await db.prisma.prediction.findMany({ where: { id: { in: inFlight } }, select: { completedAt: true } });
    for (const p of done) expect(p.completedAt!.getTime() - killedAt).toBeLessThan(bound);
    // Each was started twice (once per worker) and succeeded once.
    const starts = await db.prisma.predictionEvent.groupBy({ by: ['predictionId'], where: { predictionId: { in: inFlight }, type: 'prediction.started' }, _count: true });
    expect(starts.every((s) => s._count >= 2)).toBe(true);
  }, 120_000);

  it('large undecodable inputs do not grow Redis memory with their size (jobs carry ids)', async () => {
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
    const junk = randomBytes(1024 * 1024).toString('base64'); // 1 MiB that is not an image
    const before = await usedMemory();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await submit({ image: junk }));
    await allFinal(ids, 60_000);
    expect(await db.prisma.prediction.count({ where: { id: { in: ids }, status: 'failed' } })).toBe(50);
    const grown = (await usedMemory()) - before;
    // 50 MiB of input went through; Redis holds a few hundred bytes per (failed) job.
    expect(grown).toBeLessThan(1024 * 1024);
  }, 120_000);
});

// Scaling that acts, against real processes (gateway, workers, the autoscaler with the local
// actuator), Postgres and Redis:
//  - scale-in under load loses and duplicates nothing: a worker told to stop (SIGTERM, or
//    POST /drain on its admin listener) takes no new job and finishes or hands back what it
//    holds; every prediction succeeds once, with one UsageEvent each;
//  - live: from zero workers, a burst brings workers up (more than one), every prediction
//    succeeds once, and after the idle period the pool is back at zero.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readProcessEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { inferenceQueueName } from '#infra/queue';
import { parseExposition } from '#infra/scaling';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { consumerCaughtUp } from '../support/lifecycle.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const PEPPER = 'autoscale-e2e-pepper-'.padEnd(40, 'x');

let db: TestDatabase;
let gateway: RunningApp;
const apps: RunningApp[] = [];
let key: string;
let image: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase('autoscale_e2e');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER });
  key = seeded.testKey.secret!;
  env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: `autoscale_${randomBytes(3).toString('hex')}`,
    API_KEY_PEPPER: PEPPER,
    WORKER_CONCURRENCY: '2',
    WORKER_POOLS: 'ocr',
    WORKER_LOCK_MS: '3000',
    WORKER_STALLED_CHECK_MS: '1000',
    LOG_LEVEL: 'log',
    NODE_ENV: 'test',
  };
  gateway = await startApp('gateway', env);
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 120_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), ...apps.map((a) => a.stop())]);
  await dropRedisPrefix(env.REDIS_PREFIX!);
  await db?.drop();
});

async function submit(): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/predictions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ feature: 'ocr-line', input: { image } }),
  });
  const body = (await res.json()) as { id: string };
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(body)}\n${gateway.output().split('\n').filter((l) => /ERROR|WARN/.test(l)).slice(-5).join('\n')}`);
  return body.id;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const finished = (ids: string[]) => async () => (await db.prisma.prediction.count({ where: { id: { in: ids }, status: { in: ['starting', 'processing'] } } })) === 0;

async function expectSucceededAndBilledOnce(ids: string[]): Promise<void> {
  const statuses = await db.prisma.prediction.groupBy({ by: ['status'], where: { id: { in: ids } }, _count: true });
  expect(statuses.map((s) => [s.status, s._count])).toEqual([['succeeded', ids.length]]);
  await consumerCaughtUp(db.prisma);
  const usage = await db.prisma.usageEvent.groupBy({ by: ['id'], where: { id: { in: ids } }, _count: true });
  expect(usage).toHaveLength(ids.length);
  expect(usage.every((u) => u._count === 1)).toBe(true);
  const succeededEvents = await db.prisma.predictionEvent.groupBy({ by: ['predictionId'], where: { predictionId: { in: ids }, type: 'prediction.succeeded' }, _count: true });
  expect(succeededEvents).toHaveLength(ids.length);
  expect(succeededEvents.every((e) => e._count === 1)).toBe(true);
}

/** A burst: `n` predictions submitted 15 at a time (all at once can exhaust the gateway's small test pool of connections). */
async function burst(n: number): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < n) ids.push(...(await Promise.all(Array.from({ length: Math.min(15, n - ids.length) }, () => submit()))));
  return ids;
}

async function metric(app: RunningApp, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const samples = parseExposition(await (await fetch(`${app.adminUrl}/metrics`)).text());
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('scale-in loses nothing', () => {
  it('SIGTERM under load with WORKER_DRAIN_TIMEOUT_MS=0: held jobs go back to the queue, another worker runs them; each prediction succeeds and is billed once', async () => {
    const stays = await startApp('worker', env);
    // The leaving worker holds up to 4 jobs and the backlog outlasts the stop, so at SIGTERM some job
    // is still running (not only finishing) even on a busy machine.
    const leaves = await startApp('worker', { ...env, WORKER_DRAIN_TIMEOUT_MS: '0', WORKER_CONCURRENCY: '4' });
    apps.push(stays, leaves);
    // A feeder keeps a backlog waiting until the leaving worker has stopped: a single burst can run
    // dry on a slow machine between seeing the worker busy and the SIGTERM (then it holds nothing).
    const queue = new Queue(inferenceQueueName('ocr'), { connection: { url: readProcessEnv().REDIS_URL }, prefix: env.REDIS_PREFIX! });
    // Jobs not finished: waiting (the demo plan's priority puts them in the prioritized set) or
    // held by a worker (workers take enough to fill their batches, so most of a backlog is active).
    const backlog = async () => Object.values(await queue.getJobCounts('active', 'wait', 'prioritized')).reduce((a, b) => a + b, 0);
    const ids: string[] = [];
    let feeding = true;
    // Topped up to about 40 unfinished, at most 150 in all (inside the plan's in-flight cap and rate limit).
    const feeder = (async () => {
      while (feeding && ids.length < 150) {
        if ((await backlog()) < 40) ids.push(...(await Promise.all(Array.from({ length: 10 }, () => submit()))));
        else await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      await until('the leaving worker to hold a job with a backlog behind it', async () => ((await metric(leaves, 'stratum_workers_busy', { pool: 'ocr' })) ?? 0) > 0 && (await backlog()) >= 10, 60_000);
      expect(await leaves.stop()).toBe(0);
    } finally {
      feeding = false;
      await feeder;
      await queue.close();
    }
    expect(leaves.output()).toMatch(/draining: \d+ job\(s\) held/);
    expect(leaves.output()).toMatch(/handed back to the ocr queue \(still running at the drain deadline\)/);
    await until('every prediction to finish', finished(ids), 90_000);
    await expectSucceededAndBilledOnce(ids);
  }, 180_000);

  it('POST /drain on the admin listener: the worker finishes what it holds, takes nothing new, exits 0; nothing lost or duplicated', async () => {
    const leaves = await startApp('worker', { ...env, WORKER_DRAIN_TIMEOUT_MS: '20000' });
    apps.push(leaves);
    const ids = await burst(60);
    await until('the leaving worker to hold a job', async () => ((await metric(leaves, 'stratum_workers_busy', { pool: 'ocr' })) ?? 0) > 0, 30_000);
    const exited = new Promise<number | null>((resolve) => leaves.child.once('exit', (code) => resolve(code)));
    const res = await fetch(`${leaves.adminUrl}/drain`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect(await exited).toBe(0);
    expect(leaves.output()).toMatch(/drained/);
    // It finished the jobs it ran itself: none handed back at a deadline.
    expect(leaves.output()).not.toMatch(/still running at the drain deadline/);
    await until('every prediction to finish', finished(ids), 90_000);
    await expectSucceededAndBilledOnce(ids);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(apps.splice(0).map((a) => a.stop()));
  });
});

describe('the autoscaler acts on one machine (local actuator)', () => {
  it('from zero: a burst adds workers, every prediction succeeds once, then after the idle period the pool is back at zero', async () => {
    const autoscaler = await startApp('autoscaler', {
      ...env,
      AUTOSCALER_ACTUATOR: 'local',
      AUTOSCALER_POOLS: 'ocr',
      AUTOSCALER_SCRAPE_TARGETS: `${gateway.adminUrl}/metrics`,
      AUTOSCALER_INTERVAL_MS: '250',
      AUTOSCALER_MIN_WORKERS: '0',
      AUTOSCALER_MAX_WORKERS: '3',
      AUTOSCALER_TARGET_BACKLOG_PER_WORKER: '4',
      AUTOSCALER_DOWN_WINDOW_MS: '1000',
      AUTOSCALER_IDLE_MS: '2500',
      WORKER_DRAIN_TIMEOUT_MS: '10000',
    });
    apps.push(autoscaler);
    const current = () => metric(autoscaler, 'stratum_autoscaler_current_workers', { pool: 'ocr' });
    await until('the first decision', async () => (await current()) !== undefined, 10_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${autoscaler.output()}`);
    });
    expect(await current()).toBe(0);

    const ids = await burst(90);
    let most = 0;
    await until(
      'every prediction to finish',
      async () => {
        most = Math.max(most, (await current()) ?? 0);
        return finished(ids)();
      },
      120_000,
    );
    expect(most).toBeGreaterThan(1);
    await expectSucceededAndBilledOnce(ids);
    expect(await metric(autoscaler, 'stratum_autoscaler_decisions_total', { pool: 'ocr', action: 'up', reason: 'from_zero' })).toBeGreaterThanOrEqual(1);

    // Idle: back to zero, every worker it started drained and gone.
    await until('the pool to be back at zero', async () => (await current()) === 0, 60_000);
    expect(await metric(autoscaler, 'stratum_autoscaler_decisions_total', { pool: 'ocr', action: 'down', reason: 'idle_to_zero' })).toBeGreaterThanOrEqual(1);
    await until('the drained workers to exit', async () => (autoscaler.output().match(/exited \(code 0\) after draining/g) ?? []).length >= most, 30_000);
    expect(autoscaler.output()).not.toMatch(/exited unexpectedly/);
    expect(await autoscaler.stop()).toBe(0);
  }, 240_000);
});

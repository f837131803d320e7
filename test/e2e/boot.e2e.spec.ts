// Every app refuses to start on bad configuration, naming each bad variable; the
// autoscaler reads real queue depth and exports the number of workers it wants.
import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { readProcessEnv } from '#infra/config';
import { INFERENCE_JOB_NAME, inferenceQueueName } from '#infra/queue';
import { startApp, type AppName } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const prefix = `boot_${randomBytes(4).toString('hex')}`;
const redisUrl = readProcessEnv().REDIS_URL;

afterAll(async () => {
  await dropRedisPrefix(prefix);
});

describe('configuration is validated at boot', () => {
  it.each<AppName>(['gateway', 'worker', 'autoscaler'])('%s exits 1 naming every invalid variable', async (name) => {
    const app = await startApp(name, { REDIS_URL: 'http://not-redis', DATABASE_POOL_SIZE: 'many', LOG_LEVEL: 'chatty' }, { waitReady: false });
    const code = await new Promise<number | null>((resolve) => app.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    const out = app.output();
    expect(out).toContain('REDIS_URL');
    expect(out).toContain('DATABASE_POOL_SIZE');
    expect(out).toContain('LOG_LEVEL');
    expect(out).not.toMatch(/at .*\.js:\d+/); // a message, not a stack trace
  });
});

describe('autoscaler', () => {
  it('reads the queue depth and exports the workers it wants', async () => {
    const queue = new Queue(inferenceQueueName('ocr'), { connection: { url: redisUrl }, prefix });
    await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: INFERENCE_JOB_NAME, data: { n: i } })));
    const app = await startApp('autoscaler', { REDIS_PREFIX: prefix, AUTOSCALER_INTERVAL_MS: '200', AUTOSCALER_TARGET_BACKLOG_PER_WORKER: '8', AUTOSCALER_MAX_WORKERS: '10', AUTOSCALER_POOLS: 'ocr,tenant', LOG_LEVEL: 'log' });
    try {
      const wantsThree = /stratum_autoscaler_desired_workers\{[^}]*pool="ocr"[^}]*\} 3/;
      // The tenant pool (uploaded models), scaled when named: empty, so the minimum of 1.
      const tenantWantsOne = /stratum_autoscaler_desired_workers\{[^}]*pool="tenant"[^}]*\} 1/;
      let metrics = '';
      // Poll the exported gauge until the scaler's loop has read the queue (bounded).
      for (let i = 0; i < 100; i++) {
        metrics = await (await fetch(`${app.adminUrl}/metrics`)).text();
        if (wantsThree.test(metrics) && tenantWantsOne.test(metrics)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // ceil(20 waiting / 8 per worker) = 3
      expect(metrics).toMatch(wantsThree);
      expect(metrics).toMatch(/stratum_queue_jobs\{[^}]*pool="ocr"[^}]*state="waiting"[^}]*\} 20/);
      // No actuator: no worker reported ready, so current is 0 and the first jobs scale from zero.
      expect(app.output()).toContain('pool ocr: up 0 → 3 (from_zero; backlog 20, active 0');
      // Logged once, not at every tick that decides the same.
      expect(app.output().split('pool ocr: up 0 → 3').length - 1).toBe(1);
      expect(metrics).toMatch(tenantWantsOne);
    } finally {
      expect(await app.stop()).toBe(0);
      await queue.close();
    }
  });
});

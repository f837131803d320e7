// Signals from a real Prometheus server (Debian's `prometheus`, started here with a generated
// scrape configuration over the running apps' admin /metrics, 1 s scrape interval): every
// PromQL query the autoscaler sends is valid and answers per pool, and the autoscaler running
// with PROMETHEUS_URL decides from it. Skipped, visibly, only when the binary is missing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '#infra/db';
import { parseExposition } from '#infra/scaling';
import { PrometheusSignals, promQueries } from '../../apps/autoscaler/src/signals.js';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { freePort, startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

function prometheusBinary(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const binary = prometheusBinary();
if (!binary) console.warn('autoscale-prometheus.e2e: SKIPPED — the `prometheus` binary is not installed (apt-get install prometheus)');
const maybe = binary ? it : it.skip;

const PEPPER = 'autoscale-prom-pepper-'.padEnd(40, 'x');
let db: TestDatabase | undefined;
const apps: RunningApp[] = [];
let prometheus: ChildProcess | undefined;
let promUrl = '';
let dir = '';
let env: Record<string, string> = {};
let gateway: RunningApp;
let key = '';

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  if (!binary) return;
  db = await createTestDatabase('autoscale_prom_e2e');
  key = (await seedDemo({ prisma: db.prisma, pepper: PEPPER })).testKey.secret!;
  env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: `autoscale_prom_${randomBytes(3).toString('hex')}`,
    API_KEY_PEPPER: PEPPER,
    WORKER_CONCURRENCY: '2',
    WORKER_POOLS: 'ocr',
    LOG_LEVEL: 'log',
    NODE_ENV: 'test',
  };
  gateway = await startApp('gateway', env);
  const worker = await startApp('worker', env);
  apps.push(gateway, worker);
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  dir = mkdtempSync(join(tmpdir(), 'stratum-prom-'));
  const target = (a: RunningApp) => new URL(a.adminUrl).host;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', '  - job_name: stratum', '    static_configs:', `      - targets: [${[gateway, worker].map((a) => `'${target(a)}'`).join(', ')}]`, ''].join('\n'),
  );
  prometheus = spawn(binary, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  await until('prometheus to be ready', async () => (await fetch(`${promUrl}/-/ready`)).status === 200, 30_000);
}, 180_000);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (env.REDIS_PREFIX) await dropRedisPrefix(env.REDIS_PREFIX);
  await db?.drop();
});

describe('signals from Prometheus', () => {
  maybe(
    'every query is valid PromQL; after a burst the pool reads arrivals, service time, wait and one ready worker; the autoscaler decides from them',
    async () => {
      const signals = new PrometheusSignals(promUrl, 30);
      // Each query parses and runs (an invalid one answers 400).
      for (const q of Object.values(promQueries(30))) await signals.query(q);

      const image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
      for (let i = 0; i < 4; i++) {
        const results = await Promise.all(
          Array.from({ length: 10 }, () =>
            fetch(`${gateway.url}/v1/predictions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', prefer: 'wait' }, body: JSON.stringify({ feature: 'ocr-line', input: { image } }) }),
          ),
        );
        expect(results.map((r) => r.status).every((s) => s === 200 || s === 201 || s === 202)).toBe(true);
      }
      let last = '';
      await until(
        'Prometheus to hold the burst',
        async () => {
          // Keep arrivals flowing while Prometheus scrapes (rates are over its last 30 s).
          const more = await fetch(`${gateway.url}/v1/predictions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ feature: 'ocr-line', input: { image } }) });
          await more.body?.cancel();
          const r = (await signals.read(['ocr'])).get('ocr')!;
          last = JSON.stringify(r);
          return (r.signals.arrivalRate ?? 0) > 0 && (r.signals.serviceSeconds ?? 0) > 0 && r.signals.waitSeconds !== null && r.readyWorkers === 1;
        },
        60_000,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}; last reading ${last}`);
      });
      const r = (await signals.read(['ocr'])).get('ocr')!;
      expect(r.signals.serviceSeconds!).toBeLessThan(30);
      expect(r.busyWorkers).not.toBeNull();

      // The autoscaler with PROMETHEUS_URL (no actuator: current = ready workers Prometheus reports).
      const autoscaler = await startApp('autoscaler', { ...env, PROMETHEUS_URL: promUrl, AUTOSCALER_POOLS: 'ocr', AUTOSCALER_INTERVAL_MS: '300' });
      apps.push(autoscaler);
      expect(autoscaler.output()).toMatch(/signals from Prometheus/);
      await until(
        'a decision from Prometheus signals',
        async () => {
          const samples = parseExposition(await (await fetch(`${autoscaler.adminUrl}/metrics`)).text());
          return samples.some((s) => s.name === 'stratum_autoscaler_current_workers' && s.labels['pool'] === 'ocr' && s.value === 1);
        },
        30_000,
      );
      expect(autoscaler.output()).toMatch(/pool ocr: (hold|up|down) 1 → \d+ \(/);
    },
    180_000,
  );
});

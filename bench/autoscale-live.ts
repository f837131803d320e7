// `npm run bench:autoscale-live`: a short bursty trace for real on this machine — a real
// gateway, real workers (the ocr pool) and Postgres/Redis — sized by the autoscaler with the
// local actuator, and by a static pool of the machine's maximum, in one run on the same trace:
//   steady 20 s, a 10× spike 15 s, steady 20 s, quiet (0.1×) 15 s, zero 20 s (Poisson, seeded,
//   open loop: each prediction is sent at its time and not waited for), after 20 s of unscored
//   steady warm-up so that the autoscaled pool starts the trace in its steady state.
// Prints SLO attainment (share of predictions whose queue wait, started − created, is within the
// SLO), p99 wait and worker-seconds (the autoscaler's own count of its workers, sampled every
// 250 ms; the static pool's size × the trace's length) for each.
//
// Flags: --steady N (jobs/s, 3) --max-workers N (2: the machine has 2 cores) --slo-s N (2)
//        --interval-ms N (1000) --target-utilization U (0.25) --max-step-up N (10) --seed N (11)
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '#infra/db';
import { parseExposition } from '#infra/scaling';
import { seedDemo } from '../scripts/seed.js';
import { createTestDatabase } from '../test/support/db.js';
import { startApp, type RunningApp } from '../test/support/processes.js';
import { dropRedisPrefix } from '../test/support/redis.js';
import { rng } from './support/measure.js';

const { values } = parseArgs({
  options: {
    steady: { type: 'string' },
    'max-workers': { type: 'string' },
    'slo-s': { type: 'string' },
    'interval-ms': { type: 'string' },
    'target-utilization': { type: 'string' },
    'max-step-up': { type: 'string' },
    seed: { type: 'string' },
  },
  strict: true,
});
const STEADY = Number(values.steady ?? 3);
const MAX_WORKERS = Number(values['max-workers'] ?? 2);
const SLO_S = Number(values['slo-s'] ?? 2);
const SEED = Number(values.seed ?? 11);
const PEPPER = 'bench-autoscale-live-pepper-'.padEnd(40, 'x');
const WARMUP_S = 20;
const TRACE = [
  { name: 'steady', seconds: 20, factor: 1 },
  { name: 'spike', seconds: 15, factor: 10 },
  { name: 'steady', seconds: 20, factor: 1 },
  { name: 'quiet', seconds: 15, factor: 0.1 },
  { name: 'zero', seconds: 20, factor: 0 },
];
const TRACE_S = TRACE.reduce((a, p) => a + p.seconds, 0);

/** Send times in seconds from the start of the warm-up (the trace starts at WARMUP_S). */
function schedule(): number[] {
  const rand = rng(SEED);
  const factorAt = (t: number): number => {
    if (t < WARMUP_S) return 1;
    let start = WARMUP_S;
    for (const p of TRACE) {
      if (t < start + p.seconds) return p.factor;
      start += p.seconds;
    }
    return 0;
  };
  const top = STEADY * 10;
  const out: number[] = [];
  for (let t = -Math.log(1 - rand()) / top; t < WARMUP_S + TRACE_S; t -= Math.log(1 - rand()) / top) if (rand() * top < STEADY * factorAt(t)) out.push(t);
  return out;
}

async function metric(app: RunningApp, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const samples = parseExposition(await (await fetch(`${app.adminUrl}/metrics`)).text());
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

interface Outcome {
  attainment: number;
  p99WaitS: number;
  workerSeconds: number;
  peakWorkers: number;
  jobs: number;
}

const db = await createTestDatabase('bench_autoscale_live');
const prefixes: string[] = [];
const apps: RunningApp[] = [];
try {
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER });
  const plan = await db.prisma.plan.update({ where: { key: 'enterprise' }, data: { rateLimitPerMinute: 1_000_000, rateLimitBurst: 100_000, maxConcurrentPredictions: 100_000, monthlyQuotaUnits: null } });
  await db.prisma.organization.update({ where: { id: seeded.orgId }, data: { planId: plan.id } });
  const key = seeded.liveKey.secret!;
  const body = JSON.stringify({ feature: 'ocr-line', input: { image: (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64') } });
  const times = schedule();

  /** Replays the schedule against `gateway`; `sample` runs every 250 ms. Returns the trace's prediction ids (the warm-up's are left out). */
  async function replay(gateway: RunningApp, sample: () => Promise<void>): Promise<string[]> {
    const t0 = performance.now();
    const ids: string[] = [];
    const sends: Promise<void>[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sample();
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    for (const at of times) {
      const delay = at * 1000 - (performance.now() - t0);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      sends.push(
        fetch(`${gateway.url}/v1/predictions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body }).then(async (res) => {
          const json = (await res.json()) as { id?: string };
          if (res.status !== 202 || !json.id) throw new Error(`POST /v1/predictions answered ${res.status}: ${JSON.stringify(json)}`);
          if (at >= WARMUP_S) ids.push(json.id);
        }),
      );
    }
    await Promise.all(sends);
    const end = t0 + (WARMUP_S + TRACE_S) * 1000;
    if (performance.now() < end) await new Promise((r) => setTimeout(r, end - performance.now()));
    // Let the backlog finish (scored as it is: a late start is a long wait).
    const deadline = Date.now() + 120_000;
    while ((await db.prisma.prediction.count({ where: { id: { in: ids }, startedAt: null } })) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    sampling = false;
    await sampler;
    return ids;
  }

  async function score(ids: string[], workerSeconds: number, peakWorkers: number): Promise<Outcome> {
    const rows = await db.prisma.prediction.findMany({ where: { id: { in: ids } }, select: { createdAt: true, startedAt: true } });
    const waits = rows.map((r) => (r.startedAt ? (r.startedAt.getTime() - r.createdAt.getTime()) / 1000 : Infinity)).sort((a, b) => a - b);
    return { attainment: waits.filter((w) => w <= SLO_S).length / waits.length, p99WaitS: waits[Math.floor(waits.length * 0.99)] ?? 0, workerSeconds, peakWorkers, jobs: waits.length };
  }

  const envFor = (prefix: string): Record<string, string> => ({
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '6',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    WORKER_CONCURRENCY: '2',
    WORKER_POOLS: 'ocr',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  });

  // Static: MAX_WORKERS workers for the whole trace.
  const staticPrefix = `bench_live_static_${randomBytes(3).toString('hex')}`;
  prefixes.push(staticPrefix);
  const staticEnv = envFor(staticPrefix);
  const gwStatic = await startApp('gateway', staticEnv);
  apps.push(gwStatic);
  for (let i = 0; i < MAX_WORKERS; i++) apps.push(await startApp('worker', staticEnv, { timeoutMs: 120_000 }));
  const staticIds = await replay(gwStatic, async () => undefined);
  const staticOutcome = await score(staticIds, MAX_WORKERS * TRACE_S, MAX_WORKERS);
  await Promise.all(apps.splice(0).map((a) => a.stop()));

  // Autoscaled: the autoscaler with the local actuator, from zero, warmed up by the first WARMUP_S.
  const scaledPrefix = `bench_live_scaled_${randomBytes(3).toString('hex')}`;
  prefixes.push(scaledPrefix);
  const scaledEnv = envFor(scaledPrefix);
  const gwScaled = await startApp('gateway', scaledEnv);
  apps.push(gwScaled);
  const autoscaler = await startApp('autoscaler', {
    ...scaledEnv,
    AUTOSCALER_ACTUATOR: 'local',
    AUTOSCALER_POOLS: 'ocr',
    AUTOSCALER_SCRAPE_TARGETS: `${gwScaled.adminUrl}/metrics`,
    AUTOSCALER_INTERVAL_MS: values['interval-ms'] ?? '1000',
    AUTOSCALER_TARGET_UTILIZATION: values['target-utilization'] ?? '0.25',
    AUTOSCALER_MAX_STEP_UP: values['max-step-up'] ?? '10',
    AUTOSCALER_MIN_WORKERS: '0',
    AUTOSCALER_MAX_WORKERS: String(MAX_WORKERS),
    AUTOSCALER_DOWN_WINDOW_MS: '5000',
    AUTOSCALER_IDLE_MS: '5000',
  });
  apps.push(autoscaler);
  let workerSeconds = 0;
  let peak = 0;
  let last: number | null = null;
  const traceStart = { at: 0 };
  const replayStart = performance.now();
  traceStart.at = replayStart + WARMUP_S * 1000;
  const scaledIds = await replay(gwScaled, async () => {
    const now = performance.now();
    const n = (await metric(autoscaler, 'stratum_autoscaler_current_workers', { pool: 'ocr' })) ?? 0;
    const traceEnd = traceStart.at + TRACE_S * 1000;
    if (last !== null && now > traceStart.at && now <= traceEnd) {
      workerSeconds += (n * (now - Math.max(last, traceStart.at))) / 1000;
      peak = Math.max(peak, n);
    }
    last = now;
  });
  const scaledOutcome = await score(scaledIds, workerSeconds, peak);

  console.log(`trace (real, this machine): ${WARMUP_S} s unscored warm-up at ${STEADY} jobs/s, then ${TRACE.map((p) => `${p.name} ${p.seconds} s × ${p.factor}`).join(', ')}; ocr-line, open loop; SLO: queue wait ≤ ${SLO_S} s`);
  console.log(`autoscaler: local actuator, every ${values['interval-ms'] ?? '1000'} ms, target utilization ${values['target-utilization'] ?? '0.25'}, max step up ${values['max-step-up'] ?? '10'}, 0–${MAX_WORKERS} workers (WORKER_CONCURRENCY 2)`);
  console.log('policy      jobs   SLO attained   p99 wait s   worker-seconds   peak workers');
  for (const [name, o] of [['autoscaled', scaledOutcome], ['static', staticOutcome]] as const) {
    console.log(`${name.padEnd(10)}${String(o.jobs).padStart(6)}${(o.attainment * 100).toFixed(2).padStart(13)} %${(Number.isFinite(o.p99WaitS) ? o.p99WaitS.toFixed(2) : 'unserved').padStart(13)}${o.workerSeconds.toFixed(0).padStart(17)}${String(o.peakWorkers).padStart(15)}`);
  }
  console.log(`autoscaled vs static: attainment ${((scaledOutcome.attainment - staticOutcome.attainment) * 100).toFixed(2)} points, worker-seconds ratio ${(scaledOutcome.workerSeconds / staticOutcome.workerSeconds).toFixed(2)}`);
} finally {
  await Promise.all(apps.map((a) => a.stop()));
  for (const p of prefixes) await dropRedisPrefix(p);
  await db.drop();
}

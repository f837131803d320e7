// `npm run bench:ocr`: the `ocr` feature on rendered pages of 5 and 30 lines, measured two
// ways in one run on the same pages, models, execution providers and intra-op threads:
//   direct    runPipeline(OCR_V1) in this process on an OnnxModelHost (the same steps, no platform);
//   platform  real gateway + worker processes (real Postgres in its own schema, Redis under its
//             own prefix), POST /v1/predictions with `Prefer: wait`.
// Prints pages/s, p50/p95 latency per variant and page size and the ratio platform/direct
// (target >= 0.8). The direct host is closed before the apps start: they never share the cores.
// Exit code 1 when a platform call fails or reads a different text than the direct run.
//
// Flags: --pages N (8 per page size) --warmup N (2) --clients N (1) --intra-op-threads N (2)
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OCR_V1 } from '#feature-engine/feature-catalogue';
import { runPipeline } from '#feature-engine/features';
import { findShippedModel } from '#model-service/model-format';
import { OnnxModelHost } from '#model-service/runtime';
import { seedDemo } from '../scripts/seed.js';
import { createTestDatabase } from '../test/support/db.js';
import { startApp, type RunningApp } from '../test/support/processes.js';
import { dropRedisPrefix } from '../test/support/redis.js';
import { renderPage } from '../test/support/render-text.js';

const PEPPER = 'bench-ocr-pepper-' + 'x'.repeat(32);
const SENTENCES = [
  'The quick brown fox jumps over the lazy dog',
  'Invoice 2024-117 total 1,234.56 EUR',
  'Meeting moved to Thursday at 10:30',
  'Pack my box with five dozen liquor jugs',
  'Order #58213 shipped via express',
  'Please sign and return both copies',
  'Version 3.2.1 fixes the login bug',
];

const { values } = parseArgs({
  options: { pages: { type: 'string' }, warmup: { type: 'string' }, clients: { type: 'string' }, 'intra-op-threads': { type: 'string' }, 'session-threads': { type: 'string' } },
  strict: true,
});
const PAGES = Number(values.pages ?? 8);
const WARMUP = Number(values.warmup ?? 2);
const CLIENTS = Number(values.clients ?? 1);
const THREADS = Number(values['intra-op-threads'] ?? 2);
/** The worker's ORT_SESSION_THREADS (on: each model's session in its own thread, the default). */
const SESSION_THREADS = values['session-threads'] ?? 'on';

/** Mean time per step over the measured calls, by variant and page size. */
const stepTotals = new Map<string, Map<string, number[]>>();
function recordSteps(key: string, steps: Record<string, number> | undefined): void {
  if (!steps) return;
  const m = stepTotals.get(key) ?? new Map<string, number[]>();
  stepTotals.set(key, m);
  for (const [k, v] of Object.entries(steps)) m.set(k, [...(m.get(k) ?? []), v]);
}

interface Result {
  variant: string;
  lines: number;
  pagesPerSecond: number;
  p50: number;
  p95: number;
  texts: string[];
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

async function measure(variant: string, lines: number, pages: string[], call: (image: string) => Promise<string>): Promise<Result> {
  for (let i = 0; i < WARMUP; i++) await call(pages[i % pages.length]!);
  const latencies: number[] = [];
  const texts = new Array<string>(pages.length);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < pages.length) {
        const i = next++;
        const s = performance.now();
        texts[i] = await call(pages[i]!);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const wall = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const r = { variant, lines, pagesPerSecond: (pages.length * 1000) / wall, p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), texts };
  console.error(`  ${variant} ${lines} lines: ${r.pagesPerSecond.toFixed(3)} pages/s, p50 ${r.p50.toFixed(0)} ms, p95 ${r.p95.toFixed(0)} ms`);
  return r;
}

async function main(): Promise<number> {
  const sets = new Map<number, string[]>();
  for (const lines of [5, 30]) {
    const pages: string[] = [];
    for (let p = 0; p < PAGES; p++) {
      const text = Array.from({ length: lines }, (_, i) => SENTENCES[(p + i) % SENTENCES.length]!);
      pages.push((await renderPage({ lines: text, font: p % 2 ? 'DejaVu-Serif' : 'DejaVu-Sans', pointSize: 22, spacing: 1.7 })).toString('base64'));
    }
    sets.set(lines, pages);
  }
  const results: Result[] = [];

  // (a) direct: the same pipeline on an in-process host.
  const host = new OnnxModelHost();
  for (const name of ['ppocr-det', 'ppocr-cls', 'ppocr-rec']) await host.load(findShippedModel(name, '1')!, { executionProviders: ['cpu'], intraOpThreads: THREADS });
  for (const [lines, pages] of sets) {
    results.push(
      await measure('direct', lines, pages, async (image) => {
        const res = await runPipeline(OCR_V1, { image }, host);
        recordSteps(`direct ${lines}`, res.steps);
        return (res.output as { text: string }).text;
      }),
    );
  }
  await host.close();

  // (b) platform: gateway + worker, POST /v1/predictions with Prefer: wait.
  const db = await createTestDatabase('bench_ocr');
  const credentialsFile = join(tmpdir(), `stratum-bench-ocr-${randomBytes(4).toString('hex')}.json`);
  const prefix = `bench_ocr_${randomBytes(4).toString('hex')}`;
  const apps: RunningApp[] = [];
  let failures = 0;
  try {
    const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile });
    const key = seeded.testKey.secret!;
    const env = {
      DATABASE_URL: db.url,
      DATABASE_SCHEMA: db.schema,
      DATABASE_POOL_SIZE: '4',
      REDIS_PREFIX: prefix,
      API_KEY_PEPPER: PEPPER,
      QUOTA_TEST_UNITS_PER_MONTH: '100000',
      BODY_LIMIT_BYTES: String(8 * 1024 * 1024),
      WORKER_CONCURRENCY: String(Math.max(2, CLIENTS)),
      ORT_EXECUTION_PROVIDERS: 'cpu',
      ORT_INTRA_OP_THREADS: String(THREADS),
      ORT_SESSION_THREADS: SESSION_THREADS,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'test',
    };
    const started = await Promise.allSettled([startApp('gateway', env), startApp('worker', env, { timeoutMs: 90_000 })]);
    for (const s of started) if (s.status === 'fulfilled') apps.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const gateway = apps.find((a) => a.name === 'gateway')!;
    let current = 0;
    const call = async (image: string): Promise<string> => {
      const res = await fetch(`${gateway.url}/v1/predictions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', prefer: 'wait=60' },
        body: JSON.stringify({ feature: 'ocr', input: { image } }),
      });
      const body = (await res.json()) as { status?: string; output?: { text: string }; error?: unknown; metrics?: { steps_ms?: Record<string, number>; queue_time_ms?: number } };
      recordSteps(`platform ${current}`, { ...body.metrics?.steps_ms, queue_time_ms: body.metrics?.queue_time_ms ?? 0 });
      if (body.status !== 'succeeded') {
        failures++;
        console.error(`platform call: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
        return '';
      }
      return body.output!.text;
    };
    for (const [lines, pages] of sets) {
      current = lines;
      results.push(await measure('platform', lines, pages, call));
    }
  } finally {
    await Promise.all(apps.map((a) => a.stop()));
    await db.drop();
    await dropRedisPrefix(prefix);
    await rm(credentialsFile, { force: true });
  }

  console.log(`ocr on rendered pages: ${PAGES} pages per size, ${WARMUP} warm-up, ${CLIENTS} client(s), ${THREADS} intra-op threads, CPU, worker ORT_SESSION_THREADS=${SESSION_THREADS}`);
  console.log('mean ms per step (warm-up included; map sub-steps summed over regions):');
  for (const [key, steps] of stepTotals) {
    console.log(`  ${key.padEnd(12)} ${[...steps].map(([k, v]) => `${k} ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(0)}`).join(', ')}`);
  }
  console.log('variant   lines  pages/s   p50 ms   p95 ms');
  for (const r of results) console.log(`${r.variant.padEnd(9)} ${String(r.lines).padStart(5)} ${r.pagesPerSecond.toFixed(3).padStart(8)} ${r.p50.toFixed(0).padStart(8)} ${r.p95.toFixed(0).padStart(8)}`);
  let mismatches = 0;
  for (const lines of sets.keys()) {
    const direct = results.find((r) => r.variant === 'direct' && r.lines === lines)!;
    const platform = results.find((r) => r.variant === 'platform' && r.lines === lines)!;
    mismatches += direct.texts.filter((t, i) => t !== platform.texts[i]).length;
    console.log(`ratio platform/direct, ${lines} lines: ${(platform.pagesPerSecond / direct.pagesPerSecond).toFixed(2)} (target >= 0.8)`);
  }
  if (mismatches > 0) console.error(`${mismatches} page(s) read differently through the platform`);
  return failures === 0 && mismatches === 0 ? 0 : 1;
}

process.exitCode = await main();

// `npm run bench`: throughput of the ocr-line prediction measured two ways in one run, on
// the same model (ppocr-rec) and the same input (examples/hello.png):
//   (a)  raw    the model alone: OnnxModelHost.run on the exact tensor ocr-line builds,
//               sequentially and with N concurrent callers;
//   (a2) pipeline  runPipeline(OCR_LINE_V1) on the same host (adds base64 + PNG decode,
//               resize/normalise, CTC decode): the preprocessing cost;
//   (b)  http   real gateway + worker processes, real Postgres (own schema) and Redis (own
//               prefix), N clients sending POST /v1/predictions with `Prefer: wait`.
// Prints a table, `ratio http/raw throughput` (b over a at the same concurrency), and the
// server-reported time split of the HTTP requests. Exit code 0 only when every request
// succeeded with the expected text.
//
// Flags: --requests N (200) --clients N (4) --warmup N (10) --worker-concurrency N (= clients)
//        --intra-op-threads N (ORT_INTRA_OP_THREADS; 0 = onnxruntime default, one per core)
//        --timeout-s N (300, whole measurement budget) --json
// Both sides use the same execution providers and intra-op threads. The in-process variants
// run first and release their session before the apps start, so the two never share the cores.
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { readDevelopmentEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { ctcGreedyDecode, decodeBase64Image, decodeImage, imageToTensor, loadCtcCharset, runPipeline } from '#feature-engine/features';
import { OCR_LINE_V1 } from '#feature-engine/feature-catalogue';
import { findShippedModel } from '#model-service/model-format';
import type { ExecutionProvider } from '#infra/execution-providers';
import { OnnxModelHost } from '#model-service/runtime';
import type { TensorData } from '#model-service/tensors';
import { seedDemo } from '../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { startApp, type RunningApp } from '../test/support/processes.js';

const EXPECTED_TEXT = 'Hello Stratum';
const PEPPER = 'bench-pepper-' + 'x'.repeat(32);
const HTTP_TIMEOUT_MS = 60_000;

// ---- options ----------------------------------------------------------------------

interface Options {
  requests: number;
  clients: number;
  warmup: number;
  workerConcurrency: number;
  /** ORT intra-op threads for both the in-process host and the worker (0: onnxruntime's default). */
  intraOpThreads: number | null;
  timeoutS: number;
  json: boolean;
}

class UsageError extends Error {}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      requests: { type: 'string' },
      clients: { type: 'string' },
      warmup: { type: 'string' },
      'worker-concurrency': { type: 'string' },
      'intra-op-threads': { type: 'string' },
      'timeout-s': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
}

function intFlag(values: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return n;
}

function parseOptions(argv: string[]): Options {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const { values } = parsed;
  const clients = intFlag(values, 'clients', 4, 1, 64);
  return {
    requests: intFlag(values, 'requests', 200, 1, 100_000),
    clients,
    warmup: intFlag(values, 'warmup', 10, 0, 1_000),
    workerConcurrency: intFlag(values, 'worker-concurrency', clients, 1, 256),
    intraOpThreads: values['intra-op-threads'] === undefined ? null : intFlag(values, 'intra-op-threads', 0, 0, 64),
    timeoutS: intFlag(values, 'timeout-s', 300, 1, 3_600),
    json: values.json === true,
  };
}

// ---- measurement ------------------------------------------------------------------

interface Outcome {
  ok: boolean;
  /** Why a request failed (first few are reported). */
  error?: string;
  /** Server-side split (HTTP only), from the prediction's `metrics`. */
  server?: { queueMs: number; predictMs: number; totalMs: number };
}

interface VariantResult {
  variant: string;
  concurrency: number;
  requests: number;
  completed: number;
  failures: number;
  wallMs: number;
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  failureSamples: string[];
  /** CPU time per counted request, by process (ms), over the measured phase. */
  cpuMsPerRequest?: Record<string, number>;
  server?: { queueP50Ms: number; predictP50Ms: number; totalP50Ms: number; workerOverheadP50Ms: number; gatewayOverheadP50Ms: number };
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

const ascending = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const round2 = (x: number): number => Math.round(x * 100) / 100;

/**
 * Runs `call` `total` times with `concurrency` callers (each takes the next index until
 * the count or the deadline is reached), after `warmup` uncounted calls at the same
 * concurrency. Requests not sent before the deadline count as failures.
 */
async function measure(
  variant: string,
  call: () => Promise<Outcome>,
  o: { total: number; concurrency: number; warmup: number; deadline: number; stopped: () => boolean; cpu: () => Promise<Record<string, number>> },
): Promise<VariantResult> {
  const drive = async (count: number, record: (ms: number, out: Outcome) => void): Promise<void> => {
    let next = 0;
    const caller = async (): Promise<void> => {
      while (next < count && Date.now() < o.deadline && !o.stopped()) {
        next++;
        const t0 = performance.now();
        let out: Outcome;
        try {
          out = await call();
        } catch (e) {
          out = { ok: false, error: e instanceof Error ? e.message : String(e) };
        }
        record(performance.now() - t0, out);
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, Math.max(1, count)) }, caller));
  };

  await drive(o.warmup, () => undefined);
  const latencies: number[] = [];
  const servers: NonNullable<Outcome['server']>[] = [];
  const gatewayOverheads: number[] = [];
  const failureSamples: string[] = [];
  let failures = 0;
  const cpuBefore = await o.cpu();
  const started = performance.now();
  await drive(o.total, (ms, out) => {
    latencies.push(ms);
    if (out.server) {
      servers.push(out.server);
      gatewayOverheads.push(ms - out.server.totalMs);
    }
    if (!out.ok) {
      failures++;
      if (failureSamples.length < 5) failureSamples.push(out.error ?? 'failed');
    }
  });
  const wallMs = performance.now() - started;
  const cpuAfter = await o.cpu();
  const notSent = o.total - latencies.length;
  if (notSent > 0) {
    failures += notSent;
    failureSamples.push(`${notSent} request(s) not sent (deadline or interrupted)`);
  }
  const sorted = ascending(latencies);
  const succeeded = latencies.length - (failures - notSent);
  const result: VariantResult = {
    variant,
    concurrency: o.concurrency,
    requests: o.total,
    completed: latencies.length,
    failures,
    wallMs: round2(wallMs),
    throughput: round2(wallMs > 0 ? (succeeded * 1000) / wallMs : 0),
    p50Ms: round2(percentile(sorted, 50)),
    p99Ms: round2(percentile(sorted, 99)),
    meanMs: round2(latencies.reduce((s, x) => s + x, 0) / Math.max(1, latencies.length)),
    failureSamples,
  };
  if (latencies.length) {
    const perRequest: Record<string, number> = {};
    for (const [name, ms] of Object.entries(cpuAfter)) {
      const before = cpuBefore[name];
      if (before !== undefined) perRequest[name] = round2((ms - before) / latencies.length);
    }
    result.cpuMsPerRequest = perRequest;
  }
  if (servers.length) {
    const p50 = (xs: number[]) => round2(percentile(ascending(xs), 50));
    result.server = {
      queueP50Ms: p50(servers.map((s) => s.queueMs)),
      predictP50Ms: p50(servers.map((s) => s.predictMs)),
      totalP50Ms: p50(servers.map((s) => s.totalMs)),
      workerOverheadP50Ms: p50(servers.map((s) => s.totalMs - s.queueMs - s.predictMs)),
      gatewayOverheadP50Ms: p50(gatewayOverheads),
    };
  }
  return result;
}

/** CPU time (user + system) of this process, ms. */
function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU seconds an app reports on /metrics (prom-client's process_cpu_seconds_total), or null. */
async function appCpuSeconds(app: RunningApp): Promise<number | null> {
  try {
    const text = await (await fetch(`${app.adminUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const m = /^stratum_process_cpu_seconds_total(?:\{[^}]*\})? ([0-9.eE+-]+)$/m.exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// ---- (a) raw and (a2) pipeline ------------------------------------------------------

interface RuntimeSettings {
  executionProviders: ExecutionProvider[];
  intraOpThreads: number;
}

/** The params the ocr-line definition gives one of its nodes (so the raw tensor is the feature's own). */
function nodeParams(op: string): Record<string, unknown> {
  const node = OCR_LINE_V1.nodes.find((n) => n.op === op);
  if (!node) throw new Error(`ocr-line has no ${op} node`);
  return node.params ?? {};
}

async function runInProcess(image: string, opts: Options, runtime: RuntimeSettings, deadline: number, stopped: () => boolean): Promise<{ results: VariantResult[]; tensorDims: number[]; provider: string }> {
  const model = findShippedModel('ppocr-rec');
  if (!model) throw new Error('ppocr-rec is not in the model catalogue');
  const ref = { name: model.name, version: model.version };
  const host = new OnnxModelHost();
  try {
    const status = await host.load(model, runtime);

    const decodeParams = nodeParams('image.decode');
    const maxPixels = typeof decodeParams['maxPixels'] === 'number' ? decodeParams['maxPixels'] : undefined;
    const raw = await decodeImage(decodeBase64Image(image), maxPixels);
    const tensor: TensorData = await imageToTensor(raw, nodeParams('image.to_tensor'));
    const inputName = status.signature?.inputs[0]?.name ?? 'x';

    // The raw path must read the same text, or it measures something else.
    const dictionary = model.assets?.['dictionary'];
    if (!dictionary) throw new Error('ppocr-rec has no dictionary asset');
    const charset = await loadCtcCharset(dictionary);
    const probe = await host.run(ref, { [inputName]: tensor });
    const probs = Object.values(probe)[0];
    const text = probs ? ctcGreedyDecode(probs, charset)[0]?.text.trim() : undefined;
    if (text !== EXPECTED_TEXT) throw new Error(`raw model read ${JSON.stringify(text)}, expected ${JSON.stringify(EXPECTED_TEXT)}`);

    const rawCall = async (): Promise<Outcome> => {
      const out = await host.run(ref, { [inputName]: tensor });
      return Object.keys(out).length ? { ok: true } : { ok: false, error: 'no output' };
    };
    const pipelineCall = async (): Promise<Outcome> => {
      const r = await runPipeline(OCR_LINE_V1, { image }, host);
      const t = (r.output as { text?: unknown } | null)?.text;
      return t === EXPECTED_TEXT ? { ok: true } : { ok: false, error: `text ${JSON.stringify(t)}` };
    };
    const cpu = async () => ({ bench: ownCpuMs() });
    const base = { total: opts.requests, warmup: opts.warmup, deadline, stopped, cpu };
    const results = [
      await measure('raw', rawCall, { ...base, concurrency: 1 }),
      await measure('raw', rawCall, { ...base, concurrency: opts.clients }),
      await measure('pipeline', pipelineCall, { ...base, concurrency: 1 }),
      await measure('pipeline', pipelineCall, { ...base, concurrency: opts.clients }),
    ];
    return { results, tensorDims: tensor.dims, provider: status.provider ?? 'unknown' };
  } finally {
    // Free the session (and its thread pool) before the worker process competes for the cores.
    await host.close();
  }
}

// ---- (b) http -------------------------------------------------------------------------

async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = nextCursor;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

async function runHttp(
  image: string,
  opts: Options,
  runtime: RuntimeSettings,
  deadline: number,
  stopped: () => boolean,
  cleanups: (() => Promise<void>)[],
): Promise<{ results: VariantResult[]; apps: RunningApp[] }> {
  const env = readDevelopmentEnv();
  const db: TestDatabase = await createTestDatabase('bench');
  cleanups.push(() => db.drop());
  const credentialsFile = join(tmpdir(), `stratum-bench-${randomBytes(4).toString('hex')}.json`);
  cleanups.push(() => rm(credentialsFile, { force: true }));
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile });
  const testKey = seeded.testKey.secret;
  if (!testKey) throw new Error('the seed gave no test key secret');

  const prefix = `bench_${randomBytes(4).toString('hex')}`;
  cleanups.push(async () => {
    await deleteRedisPrefix(env.REDIS_URL, prefix);
  });
  const appEnv = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: String(Math.max(4, opts.clients)),
    REDIS_URL: env.REDIS_URL,
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    // The bench drives a test key: room for every request in the test-mode quota.
    QUOTA_TEST_UNITS_PER_MONTH: String(opts.requests + opts.warmup + 1_000),
    WORKER_CONCURRENCY: String(opts.workerConcurrency),
    ORT_EXECUTION_PROVIDERS: runtime.executionProviders.join(','),
    ORT_INTRA_OP_THREADS: String(runtime.intraOpThreads),
    GATEWAY_HOST: '127.0.0.1',
    WORKER_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  const apps: RunningApp[] = [];
  // allSettled: if one fails to start, the other is still stopped by the cleanup.
  const started = await Promise.allSettled([startApp('gateway', appEnv), startApp('worker', appEnv, { timeoutMs: 90_000 })]);
  for (const s of started) if (s.status === 'fulfilled') apps.push(s.value);
  cleanups.push(async () => {
    const codes = await Promise.all(apps.map((a) => a.stop()));
    codes.forEach((c, i) => {
      if (c !== 0) console.error(`bench: ${apps[i]!.name} exited with ${String(c)}:\n${apps[i]!.output().slice(-2000)}`);
    });
  });
  const failedStart = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failedStart) throw failedStart.reason;
  const gateway = apps.find((a) => a.name === 'gateway')!;

  const body = JSON.stringify({ feature: 'ocr-line', input: { image } });
  const call = async (): Promise<Outcome> => {
    const res = await fetch(`${gateway.url}/v1/predictions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${testKey}`, 'content-type': 'application/json', prefer: 'wait' },
      body,
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      // reported below with the raw text
    }
    const m = json?.metrics;
    const server = m && typeof m.total_time_ms === 'number' ? { queueMs: Number(m.queue_time_ms), predictMs: Number(m.predict_time_ms), totalMs: Number(m.total_time_ms) } : undefined;
    if (res.status !== 201) return { ok: false, error: `HTTP ${res.status}: ${text.slice(0, 200)}`, ...(server ? { server } : {}) };
    if (json?.output?.text !== EXPECTED_TEXT) return { ok: false, error: `status ${String(json?.status)}, text ${JSON.stringify(json?.output?.text)}, error ${JSON.stringify(json?.error)}`, ...(server ? { server } : {}) };
    return { ok: true, ...(server ? { server } : {}) };
  };
  const cpu = async () => {
    const out: Record<string, number> = { client: ownCpuMs() };
    for (const app of apps) {
      const seconds = await appCpuSeconds(app);
      if (seconds !== null) out[app.name] = seconds * 1000;
    }
    return out;
  };
  const base = { total: opts.requests, warmup: opts.warmup, deadline, stopped, cpu };
  const results = [await measure('http', call, { ...base, concurrency: 1 }), await measure('http', call, { ...base, concurrency: opts.clients })];
  return { results, apps };
}

// ---- report ---------------------------------------------------------------------------

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function printTable(results: VariantResult[]): void {
  const head = ['variant', 'callers', 'requests', 'failed', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req'];
  const cpu = (r: VariantResult) =>
    Object.entries(r.cpuMsPerRequest ?? {})
      .map(([name, ms]) => `${name} ${ms.toFixed(1)}`)
      .join(', ');
  const rows = results.map((r) => [r.variant, String(r.concurrency), String(r.requests), String(r.failures), r.throughput.toFixed(1), r.p50Ms.toFixed(1), r.p99Ms.toFixed(1), cpu(r)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!, i > 0 && i < cells.length - 1)).join('  ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

function find(results: VariantResult[], variant: string, concurrency: number): VariantResult | undefined {
  return results.find((r) => r.variant === variant && r.concurrency === concurrency);
}

// ---- main -------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const env = readDevelopmentEnv();
  const runtime: RuntimeSettings = { executionProviders: env.ORT_EXECUTION_PROVIDERS, intraOpThreads: opts.intraOpThreads ?? env.ORT_INTRA_OP_THREADS };
  const deadline = Date.now() + opts.timeoutS * 1000;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    console.error('bench: interrupted, finishing the requests in flight and cleaning up');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stopped = () => interrupted;

  const image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
  const log = (msg: string) => {
    if (!opts.json) console.error(`bench: ${msg}`);
  };

  const cleanups: (() => Promise<void>)[] = [];
  const results: VariantResult[] = [];
  let inProcess: Awaited<ReturnType<typeof runInProcess>>;
  try {
    log(`in-process: ppocr-rec via OnnxModelHost, ${opts.requests} requests per variant (+${opts.warmup} warm-up)`);
    inProcess = await runInProcess(image, opts, runtime, deadline, stopped);
    results.push(...inProcess.results);
    if (!stopped()) {
      log('http: starting gateway and worker on a fresh schema and Redis prefix');
      const http = await runHttp(image, opts, runtime, deadline, stopped, cleanups);
      results.push(...http.results);
    }
  } finally {
    for (const clean of cleanups.reverse()) {
      await clean().catch((e: unknown) => console.error(`bench: cleanup step failed: ${e instanceof Error ? e.message : String(e)}`));
    }
  }

  const { tensorDims, provider } = inProcess;
  const rawC = find(results, 'raw', opts.clients);
  const httpC = find(results, 'http', opts.clients);
  const raw1 = find(results, 'raw', 1);
  const http1 = find(results, 'http', 1);
  const ratio = rawC && httpC && rawC.throughput > 0 ? httpC.throughput / rawC.throughput : NaN;
  const ratioSequential = raw1 && http1 && raw1.throughput > 0 ? http1.throughput / raw1.throughput : NaN;
  const failures = results.reduce((n, r) => n + r.failures, 0);
  const machine = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    executionProvider: provider,
    intraOpThreads: runtime.intraOpThreads,
    workerConcurrency: opts.workerConcurrency,
    clients: opts.clients,
    tensorDims,
  };

  if (opts.json) {
    console.log(JSON.stringify({ machine, results, ratioHttpOverRaw: round2(ratio), ratioHttpOverRawSequential: round2(ratioSequential), failures, interrupted }, null, 2));
  } else {
    console.log(`ocr-line / ppocr-rec on examples/hello.png (tensor [${tensorDims.join(',')}]), ${opts.requests} requests per variant after ${opts.warmup} warm-up`);
    printTable(results);
    console.log(`ratio http/raw throughput: ${ratio.toFixed(2)}  (${opts.clients} concurrent callers; 1 caller: ${ratioSequential.toFixed(2)})`);
    for (const r of results.filter((x) => x.server)) {
      const s = r.server!;
      console.log(
        `http x${r.concurrency} medians: client ${r.p50Ms} ms = gateway+HTTP ${s.gatewayOverheadP50Ms} + queue wait ${s.queueP50Ms} + pipeline ${s.predictP50Ms} + worker DB/events ${s.workerOverheadP50Ms} ms (server total ${s.totalP50Ms} ms)`,
      );
    }
    console.log(
      `machine: ${machine.cores} cores (${machine.cpu}), node ${machine.node}; ORT ${provider}, intra-op threads ${runtime.intraOpThreads || 'default'}; worker concurrency ${opts.workerConcurrency}, clients ${opts.clients}`,
    );
    for (const r of results.filter((x) => x.failures > 0)) console.log(`FAILED ${r.variant} x${r.concurrency}: ${r.failures} — ${r.failureSamples.join(' | ')}`);
  }
  if (interrupted) return 130;
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof UsageError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(2);
  },
);

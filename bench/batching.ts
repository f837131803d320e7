// Dynamic batching benchmark (`npm run build && node dist/bench/batching.js`), all in one run:
//   wide       dense-mlp-wide, the "small model": a weight-heavy MLP built in code (76 MB of
//              float32, DENSE_MLP_WIDE_SPEC in tools/model-builders/src/dense-model.ts), memory-bound at
//              batch 1 (batching pays on a CPU) and about 1 ms of compute per item at batch 32, so
//              the worker/raw ratio measures the worker's overhead, not BullMQ's fixed cost per job;
//   dense      dense-mlp (12.9 MB, ~0.1 ms per item at batch 32): cheaper per item than a job's
//              queue work (~0.6 ms), so its worker rows show the queue ceiling, not the model;
//   tiny       the tiny classifier (negligible compute): the queue ceiling;
//   ppocr-rec  PaddleOCR recognition (compute-bound): batching forced on vs off, for the record
//              (its config batches on GPUs only: max_batch_size_cpu 1).
// For each model:
//   (a) raw     OnnxModelHost.run in a loop, one caller: batch 1, then the model's max batch
//               (items/s; latency per call), at the same intra-op threads as (b);
//   (b) worker  the worker path under concurrent load: clients add jobs to a BullMQ queue
//               (real Redis, own prefix) and wait for their completion; an in-process BullMQ
//               Worker (concurrency from poolConcurrency and the worker app's options) runs each
//               job through the BatchingRunner, with batching on, then off (items/s; latency
//               per job, from add to completed). Sessions run as in the worker app: in a
//               session thread (ThreadedModelHost, ORT_SESSION_THREADS=on) unless --sessions inline. Dense and tiny jobs carry their input floats;
//               ppocr-rec jobs carry examples/hello.png and run the ocr-line pipeline.
// Prints a table and the ratios batching-on/off and worker/raw at the same batch size.
// Postgres is not used: the prediction rows a real job writes cost the same with and without
// batching (bench/predict-throughput.ts measures the HTTP + database path).
//
// Flags: --wide-jobs N (1024) --dense-jobs N (6000) --tiny-jobs N (10000) --rec-jobs N (120)
//        --clients-factor N (2: clients = factor x max batch) --dense-delay-ms X (both dense
//        models' max_queue_delay_ms) --intra-op-threads N (all models; default 1, raw and worker
//        alike) --sessions threads|inline (worker path; default threads) --topology split|inline|both
//        (split, default: the BullMQ Worker in a child process, bench/batching-worker.ts, completions
//        over Redis pub/sub; inline: in this process) --only wide,dense,tiny,rec --json
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { readDevelopmentEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { decodeBase64Image, decodeImage, imageToTensor, type ToTensorParams } from '#feature-engine/features';
import { OCR_LINE_V1 } from '#feature-engine/feature-catalogue';
import { DENSE_MLP_SPEC, DENSE_MODEL, denseMlpInput, DENSE_MLP_WIDE_SPEC, type DenseMlpSpec, TINY_CLASSIFIER_SPEC, TINY_MODEL } from '#tools/model-builders';
import { elementCount, float32Tensor, type TensorData } from '#model-service/tensors';
import { findShippedModel, type ModelEntry } from '#model-service/model-format';
import type { ExecutionProvider } from '#infra/execution-providers';
import { OnnxModelHost, ThreadedModelHost, type ModelHost } from '#model-service/runtime';
import { createRedis } from '#infra/redis';
import { batchingOf, poolConcurrency } from '../apps/worker/src/batching/batching-runner.js';
import { startBenchWorker, type JobSpec, type Reply, type Request } from './batching-worker.js';

const EXPECTED_TEXT = 'Hello Stratum';

interface Row {
  model: string;
  variant: string;
  /** Where the worker side ran (worker rows); '-' for raw loops. */
  topology: Topology | '-';
  batch: string;
  callers: number;
  items: number;
  failures: number;
  itemsPerS: number;
  /** Percentiles of per-call (raw) or per-job (worker) latency, ms. */
  p50: number;
  p95: number;
  p99: number;
  meanBatch: number;
  /**
   * CPU ms per item during the measured window (worker rows): `clients` = this process (clients,
   * and the worker too when inline), `worker` = the worker process (split), `redis` = the Redis server.
   */
  cpu?: { clients: number; worker: number | null; redis: number | null };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

function summarise(base: Omit<Row, 'itemsPerS' | 'p50' | 'p95' | 'p99'>, wallMs: number, latencies: number[]): Row {
  const s = [...latencies].sort((a, b) => a - b);
  return { ...base, itemsPerS: round2(((base.items - base.failures) * 1000) / wallMs), p50: round2(percentile(s, 50)), p95: round2(percentile(s, 95)), p99: round2(percentile(s, 99)) };
}

/** Stacks `n` copies of a one-row tensor along axis 0. */
function repeatRows(t: TensorData, n: number): TensorData {
  const data = new Float32Array(elementCount(t.dims) * n);
  for (let i = 0; i < n; i++) data.set(t.data as Float32Array, i * t.data.length);
  return { dtype: 'float32', dims: [n, ...t.dims.slice(1)], data };
}

// ---- (a) raw -------------------------------------------------------------------------------

async function raw(host: OnnxModelHost, model: ModelEntry, label: string, feeds: Record<string, TensorData>, items: number, batch: number): Promise<Row> {
  const name = Object.keys(feeds)[0]!;
  const stacked = { [name]: repeatRows(feeds[name]!, batch) };
  for (let i = 0; i < 5; i++) await host.run(model, stacked);
  const calls = Math.max(1, Math.round(items / batch));
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await host.run(model, stacked);
    latencies.push(performance.now() - t0);
  }
  return summarise({ model: label, variant: 'raw', topology: '-', batch: String(batch), callers: 1, items: calls * batch, failures: 0, meanBatch: batch }, performance.now() - started, latencies);
}

// ---- (b) worker path -------------------------------------------------------------------------

type Topology = 'split' | 'inline';

interface WorkerCase {
  label: string;
  model: ModelEntry;
  jobs: number;
  clients: number;
  /** What a job carries. */
  data: (i: number) => Record<string, unknown>;
  /** What the worker does with it (bench/batching-worker.ts builds the job body from it). */
  spec: JobSpec;
}

/**
 * The worker side in its own process (`--topology split`): bench/batching-worker.ts, spawned with
 * this Node and an IPC channel; one per model, it loads the model in its own host and then runs
 * one BullMQ Worker per measurement (`start` / `stop`).
 */
class WorkerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private exited: Error | null = null;
  provider: string | null = null;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      p?.resolve(r);
    });
    child.on('exit', (code, signal) => {
      this.exited = new Error(`bench worker process exited (code ${code ?? '-'}, signal ${signal ?? '-'})`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  /** Spawns the child and loads `entry` there; resolves once the model is warm. */
  static async start(entry: ModelEntry, load: { executionProviders: ExecutionProvider[]; intraOpThreads: number; threadedSessions: boolean }): Promise<WorkerProcess> {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'batching-worker.js');
    const w = new WorkerProcess(spawn(process.execPath, [script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    try {
      const r = await w.request({ cmd: 'load', entry, ...load });
      w.provider = r.ok ? (r.provider ?? null) : null;
    } catch (e) {
      w.child.kill();
      throw e;
    }
    return w;
  }

  async request(req: DistributiveOmit<Request, 'id'>): Promise<Extract<Reply, { ok: true }>> {
    if (this.exited) throw this.exited;
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...req, id });
    });
    if (!reply.ok) throw new Error(`bench worker process: ${req.cmd}: ${reply.error}`);
    return reply;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.request({ cmd: 'exit' }).catch(() => this.child.kill());
    await gone;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Where the worker side runs: next to the clients (today's in-process variant) or in its own process. */
type WorkerSide = { topology: 'inline'; host: ModelHost } | { topology: 'split'; proc: WorkerProcess };

/** CPU ms used so far by this process, the worker process (split) and the Redis server (INFO cpu; null when unreadable). */
async function cpuNow(side: WorkerSide, redis: Redis): Promise<{ self: number; worker: number | null; redis: number | null }> {
  const u = process.cpuUsage();
  const worker = side.topology === 'split' ? ((await side.proc.request({ cmd: 'cpu' })).cpuMs ?? null) : null;
  const info = await redis.info('cpu').catch(() => '');
  const sys = Number(/^used_cpu_sys:([\d.]+)/m.exec(info)?.[1] ?? NaN);
  const user = Number(/^used_cpu_user:([\d.]+)/m.exec(info)?.[1] ?? NaN);
  return { self: (u.user + u.system) / 1000, worker, redis: Number.isFinite(sys + user) ? (sys + user) * 1000 : null };
}

async function workerPath(side: WorkerSide, c: WorkerCase, batching: boolean, redisUrl: string): Promise<Row> {
  const prefix = `bench_batching_${randomBytes(4).toString('hex')}`;
  const queueName = `inference-bench`;
  const channel = `${prefix}:done`;
  const connection = createRedis(redisUrl, 'bench-queue');
  const concurrency = poolConcurrency(4, [c.model.config.maxBatchSize], true);
  const waiting = new Map<string, { resolve: (batch: number) => void; reject: (e: Error) => void }>();
  const settle = (id: string, outcome: { batch: number } | { error: Error }) => {
    const w = waiting.get(id);
    if (!w) return;
    if ('batch' in outcome) w.resolve(outcome.batch);
    else w.reject(outcome.error);
  };
  const queue = new Queue(queueName, { connection, prefix });
  let stop: () => Promise<void>;
  let subscriber: Redis | null = null;
  if (side.topology === 'inline') {
    // Clients and worker on this event loop: completions straight from the Worker's events.
    const w = await startBenchWorker(side.host, c.model, c.spec, { redisUrl, prefix, queueName, batching, concurrency, onDone: settle });
    stop = w.close;
  } else {
    // Worker in its own process: completions over Redis pub/sub, as a gateway hears of them.
    const sub = createRedis(redisUrl, 'bench-events');
    subscriber = sub;
    sub.on('message', (_channel: string, message: string) => {
      const space = message.indexOf(' ');
      const id = message.slice(0, space);
      const rest = message.slice(space + 1);
      settle(id, rest.startsWith('!') ? { error: new Error(rest.slice(1)) } : { batch: Number(rest) });
    });
    await sub.subscribe(channel);
    await side.proc.request({ cmd: 'start', spec: c.spec, prefix, queueName, channel, batching, concurrency });
    stop = async () => {
      await side.proc.request({ cmd: 'stop' });
    };
  }

  let next = 0;
  let failures = 0;
  const latencies: number[] = [];
  const batches: number[] = [];
  const drive = async (count: number, record: boolean): Promise<void> => {
    const client = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        const id = `${record ? 'j' : 'w'}${i}`;
        const t0 = performance.now();
        const done = new Promise<number>((resolve, reject) => waiting.set(id, { resolve, reject }));
        try {
          await queue.add('predict', c.data(i), { jobId: id, removeOnComplete: true, removeOnFail: true });
          const batch = await done;
          if (record) {
            latencies.push(performance.now() - t0);
            batches.push(batch);
          }
        } catch {
          if (record) failures++;
        } finally {
          waiting.delete(id);
        }
      }
    };
    await Promise.all(Array.from({ length: c.clients }, client));
  };
  try {
    await drive(Math.min(c.jobs, c.clients * 5), false);
    next = 0;
    const cpu0 = await cpuNow(side, connection);
    const started = performance.now();
    await drive(c.jobs, true);
    const wallMs = performance.now() - started;
    const cpu1 = await cpuNow(side, connection);
    const perItem = (a: number | null, b: number | null) => (a === null || b === null ? null : round2((b - a) / c.jobs));
    const row = summarise(
      {
        model: c.label,
        variant: batching ? 'worker, batching on' : 'worker, batching off',
        topology: side.topology,
        batch: batching ? `<=${c.model.config.maxBatchSize}` : '1',
        callers: c.clients,
        items: c.jobs,
        failures,
        meanBatch: round2(batches.reduce((a, b) => a + b, 0) / Math.max(1, batches.length)),
      },
      wallMs,
      latencies,
    );
    return { ...row, cpu: { clients: perItem(cpu0.self, cpu1.self) ?? 0, worker: perItem(cpu0.worker, cpu1.worker), redis: perItem(cpu0.redis, cpu1.redis) } };
  } finally {
    await stop();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
    subscriber?.disconnect();
  }
}

// ---- main ---------------------------------------------------------------------------------------

function intFlag(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`--${name} must be a positive integer`);
  return Number(v);
}

function printTable(rows: Row[]): void {
  const head = ['model', 'variant', 'topology', 'batch', 'callers', 'items', 'failed', 'items/s', 'p50 ms', 'p95 ms', 'p99 ms', 'mean batch'];
  const cells = rows.map((r) => [r.model, r.variant, r.topology, r.batch, String(r.callers), String(r.items), String(r.failures), r.itemsPerS.toFixed(1), r.p50.toFixed(2), r.p95.toFixed(2), r.p99.toFixed(2), r.meanBatch.toFixed(2)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i < 4 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

const MODELS = ['wide', 'dense', 'tiny', 'rec'] as const;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      'wide-jobs': { type: 'string' },
      'dense-jobs': { type: 'string' },
      'tiny-jobs': { type: 'string' },
      'rec-jobs': { type: 'string' },
      'clients-factor': { type: 'string' },
      'dense-delay-ms': { type: 'string' },
      'intra-op-threads': { type: 'string' },
      sessions: { type: 'string', default: 'threads' },
      topology: { type: 'string', default: 'split' },
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const env = readDevelopmentEnv();
  const wideJobs = intFlag(values['wide-jobs'], 1_024, 'wide-jobs');
  const denseJobs = intFlag(values['dense-jobs'], 6_000, 'dense-jobs');
  const tinyJobs = intFlag(values['tiny-jobs'], 10_000, 'tiny-jobs');
  const recJobs = intFlag(values['rec-jobs'], 120, 'rec-jobs');
  const factor = intFlag(values['clients-factor'], 2, 'clients-factor');
  const threads = intFlag(values['intra-op-threads'], 1, 'intra-op-threads');
  const denseDelay = values['dense-delay-ms'] === undefined ? undefined : Number(values['dense-delay-ms']);
  if (denseDelay !== undefined && !(denseDelay >= 0)) throw new Error('--dense-delay-ms must be a number >= 0');
  if (values.sessions !== 'threads' && values.sessions !== 'inline') throw new Error('--sessions must be threads or inline');
  const threadedSessions = values.sessions === 'threads';
  if (values.topology !== 'split' && values.topology !== 'inline' && values.topology !== 'both') throw new Error('--topology must be split, inline or both');
  const topologies: Topology[] = values.topology === 'both' ? ['split', 'inline'] : [values.topology];
  const only = new Set(values.only ? values.only.split(',') : MODELS);
  for (const m of only) if (!(MODELS as readonly string[]).includes(m)) throw new Error(`--only: unknown model ${m} (${MODELS.join(', ')})`);
  const log = (m: string) => {
    if (!values.json) console.error(`bench: ${m}`);
  };

  const dir = mkdtempSync(join(tmpdir(), 'stratum-bench-batching-'));
  // Raw loops: the in-process host (session.run on this thread, nothing else running).
  // Worker path, inline: the host the worker app uses (ORT_SESSION_THREADS: a thread per session),
  // in this process; split: the same host in the child process (bench/batching-worker.ts).
  const host = new OnnxModelHost();
  const workerHost = threadedSessions ? new ThreadedModelHost() : host;
  const rows: Row[] = [];
  const load = { executionProviders: env.ORT_EXECUTION_PROVIDERS, intraOpThreads: threads };
  /** The worker-path measurements of one model: each case, batching on then off (or as listed), per topology. */
  const workerRows = async (model: ModelEntry, runs: { c: WorkerCase; batching: boolean; what: string; rename?: (r: Row) => Row }[]) => {
    for (const topology of topologies) {
      let side: WorkerSide;
      let release: () => Promise<void>;
      if (topology === 'inline') {
        if (workerHost !== host) await workerHost.load(model, load);
        side = { topology, host: workerHost };
        release = async () => {
          if (workerHost !== host) await workerHost.unload(model);
        };
      } else {
        const proc = await WorkerProcess.start(model, { ...load, threadedSessions });
        side = { topology, proc };
        release = () => proc.close();
      }
      try {
        for (const run of runs) {
          log(`${run.c.label}: worker path (${topology}), ${run.what} (${run.c.jobs} jobs, ${run.c.clients} clients)`);
          const row = await workerPath(side, run.c, run.batching, env.REDIS_URL);
          rows.push(run.rename ? run.rename(row) : row);
        }
      } finally {
        await release();
      }
    }
  };
  const onOff = (c: WorkerCase, on = 'batching on') => [
    { c, batching: true, what: on },
    { c, batching: false, what: 'batching off' },
  ];
  const denseRows = async (label: string, name: string, spec: DenseMlpSpec, jobs: number) => {
    // Max batch 32, max_queue_delay_ms 2 (or --dense-delay-ms).
    const base = DENSE_MODEL.entry(join(dir, `${name}.onnx`), spec, {}, name);
    const dense: ModelEntry = { ...base, config: { ...base.config, intraOpThreads: threads, ...(denseDelay !== undefined ? { maxQueueDelayMs: denseDelay } : {}) } };
    const host0 = await host.load(dense, load);
    const inputSize = spec.sizes[0]!;
    const feeds = { x: float32Tensor([1, inputSize], denseMlpInput(0, inputSize)) };
    const max = dense.config.maxBatchSize;
    log(`${label} (${spec.sizes.join('-')}) on ${host0.provider}: raw loops (${jobs} items each)`);
    rows.push(await raw(host, dense, label, feeds, jobs, 1));
    rows.push(await raw(host, dense, label, feeds, jobs, max));
    await host.unload(dense);
    const denseCase: WorkerCase = {
      label,
      model: dense,
      jobs,
      clients: factor * max,
      data: (i) => ({ x: denseMlpInput(i, inputSize) }),
      spec: { kind: 'dense', inputSize, outputSize: spec.sizes.at(-1)! },
    };
    if (workerHost === host) await host.load(dense, load);
    await workerRows(dense, onOff(denseCase));
    if (workerHost === host) await host.unload(dense);
  };
  try {
    if (only.has('wide')) await denseRows('dense-mlp-wide', 'dense-mlp-wide', DENSE_MLP_WIDE_SPEC, wideJobs);
    if (only.has('dense')) await denseRows('dense-mlp (queue ceiling)', 'dense-mlp', DENSE_MLP_SPEC, denseJobs);

    if (only.has('tiny')) {
      // The queue ceiling: the tiny classifier (0.01-0.05 ms a call) and the same jobs with no model call.
      const base = TINY_MODEL.entry(join(dir, 'tiny.onnx'));
      const tiny: ModelEntry = { ...base, config: { ...base.config, maxBatchSize: 32, intraOpThreads: threads } };
      await host.load(tiny, load);
      const tinyCase: WorkerCase = {
        label: 'tiny (queue ceiling)',
        model: tiny,
        jobs: tinyJobs,
        clients: factor * tiny.config.maxBatchSize,
        data: (i) => ({ x: [Math.sin(i), Math.cos(i), 0.5, -0.25] }),
        spec: { kind: 'tiny' },
      };
      log(`tiny: raw loop (${tinyJobs} items)`);
      rows.push(await raw(host, tiny, tinyCase.label, { x: float32Tensor([1, TINY_CLASSIFIER_SPEC.inputSize], [0.5, -1, 0.25, 2]) }, tinyJobs, 1));
      if (workerHost !== host) await host.unload(tiny);
      await workerRows(tiny, [
        ...onOff(tinyCase),
        { c: { ...tinyCase, spec: { kind: 'none' } }, batching: false, what: 'queue only, no model call', rename: (r) => ({ ...r, model: 'queue only (no model)', variant: 'worker', batch: '-', meanBatch: 0 }) },
      ]);
      if (workerHost === host) await host.unload(tiny);
    }

    if (only.has('rec')) {
      // ppocr-rec on examples/hello.png: the exact tensor ocr-line builds. Its config batches on
      // GPUs only (max_batch_size_cpu 1); here batching is forced to max_batch_size for the record.
      const shipped = findShippedModel('ppocr-rec');
      if (!shipped) throw new Error('ppocr-rec is not in the catalogue');
      const rec: ModelEntry = { ...shipped, config: { ...shipped.config, intraOpThreads: threads } };
      const status = await host.load(rec, load);
      const image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
      const tensorParams = OCR_LINE_V1.nodes.find((n) => n.op === 'image.to_tensor')?.params as unknown as ToTensorParams;
      const recFeeds = { x: await imageToTensor(await decodeImage(decodeBase64Image(image)), tensorParams) };
      const recMax = rec.config.maxBatchSize;
      log(`ppocr-rec on ${status.provider} (configured batch there: ${batchingOf(rec, status.provider).maxBatchSize}): raw loops (${recJobs} items each, tensor [${recFeeds.x.dims.join(',')}])`);
      rows.push(await raw(host, rec, 'ppocr-rec', recFeeds, recJobs, 1));
      rows.push(await raw(host, rec, 'ppocr-rec', recFeeds, recJobs, recMax));
      if (workerHost !== host) await host.unload(rec);
      const recCase: WorkerCase = {
        label: 'ppocr-rec',
        model: rec,
        jobs: recJobs,
        clients: factor * recMax,
        data: () => ({ image }),
        spec: { kind: 'rec', expectedText: EXPECTED_TEXT },
      };
      await workerRows(
        rec,
        onOff(recCase, 'batching forced on').map((r) => (r.batching ? { ...r, rename: (row: Row) => ({ ...row, variant: 'worker, batching on (forced)' }) } : r)),
      );
      if (workerHost === host) await host.unload(rec);
    }
  } finally {
    await host.close();
    if (workerHost !== host) await workerHost.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const find = (model: string, variant: string, topology: Topology | '-', batch?: string) =>
    rows.find((r) => r.model === model && r.variant.startsWith(variant) && r.topology === topology && (batch === undefined || r.batch === batch));
  // Ratios per topology: worker rows of that topology against the (shared) raw loops.
  const ratios: Partial<Record<Topology, Record<string, Record<string, number>>>> = {};
  const queue: Partial<Record<Topology, number>> = {};
  for (const topology of topologies) {
    const perModel: Record<string, Record<string, number>> = {};
    for (const model of ['dense-mlp-wide', 'dense-mlp (queue ceiling)', 'ppocr-rec']) {
      const on = find(model, 'worker, batching on', topology);
      const off = find(model, 'worker, batching off', topology);
      const raw1 = find(model, 'raw', '-', '1');
      const rawMax = rows.find((r) => r.model === model && r.variant === 'raw' && r.batch !== '1');
      if (!on || !off || !raw1 || !rawMax) continue;
      perModel[model] = {
        onOverOffThroughput: round2(on.itemsPerS / off.itemsPerS),
        onOverOffP95: round2(on.p95 / off.p95),
        workerOffOverRawB1: round2(off.itemsPerS / raw1.itemsPerS),
        workerOnOverRawMax: round2(on.itemsPerS / rawMax.itemsPerS),
        rawMaxOverRawB1: round2(rawMax.itemsPerS / raw1.itemsPerS),
      };
    }
    ratios[topology] = perModel;
    const q = find('queue only (no model)', 'worker', topology);
    if (q) queue[topology] = q.itemsPerS;
  }
  const failures = rows.reduce((n, r) => n + r.failures, 0);
  const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, intraOpThreads: threads, sessions: values.sessions, topologies, loadAverage: loadavg().map((l) => round2(l)) };
  if (values.json) console.log(JSON.stringify({ machine, rows, ratios, queueCeilingJobsPerS: queue, failures }, null, 2));
  else {
    console.log('raw: latency per session.run call (one caller); worker: latency per job, add -> completed (concurrent clients)');
    console.log('topology split: clients (this process) and BullMQ worker (child process) on separate event loops, completions over Redis pub/sub; inline: both in this process');
    printTable(rows);
    // CPU per item in the measured window, against the wall time per item: on 2 cores a row cannot
    // go faster than (sum of the CPU) / 2 per item, whatever the topology.
    console.log('CPU ms per item (measured window; redis = the whole server, other tenants included):');
    for (const r of rows) {
      if (!r.cpu) continue;
      const parts = [`${r.topology === 'split' ? 'clients' : 'clients+worker'} ${r.cpu.clients.toFixed(2)}`];
      if (r.cpu.worker !== null) parts.push(`worker process ${r.cpu.worker.toFixed(2)}`);
      if (r.cpu.redis !== null) parts.push(`redis ${r.cpu.redis.toFixed(2)}`);
      const total = r.cpu.clients + (r.cpu.worker ?? 0) + (r.cpu.redis ?? 0);
      console.log(`  ${r.model}, ${r.variant} [${r.topology}]: ${parts.join(' + ')} = ${total.toFixed(2)} ms; wall ${(1000 / r.itemsPerS).toFixed(2)} ms per item`);
    }
    for (const topology of topologies) {
      for (const [model, r] of Object.entries(ratios[topology] ?? {})) {
        console.log(
          `${model} [${topology}]: batching on/off throughput ${r['onOverOffThroughput']!.toFixed(2)}x, p95 on/off ${r['onOverOffP95']!.toFixed(2)}; ` +
            `worker/raw: off vs raw b1 ${r['workerOffOverRawB1']!.toFixed(2)}, on vs raw max batch ${r['workerOnOverRawMax']!.toFixed(2)}; raw max batch/b1 ${r['rawMaxOverRawB1']!.toFixed(2)}x`,
        );
      }
      const q = queue[topology];
      if (q) console.log(`queue ceiling [${topology}] (BullMQ add -> worker -> completed, no model call): ${q.toFixed(0)} jobs/s = ${(1000 / q).toFixed(3)} ms per job`);
      // Where a job's time goes: per job, the model's share (from the raw loop at the same batch)
      // and the rest. With session threads the two overlap (two cores), so the rest is only the
      // part of the queue work the model did not hide; inline they add up.
      for (const model of Object.keys(ratios[topology] ?? {})) {
        const parts = (variant: string, rawBatch: (r: Row) => boolean) => {
          const w = find(model, variant, topology);
          const r = rows.find((x) => x.model === model && x.variant === 'raw' && rawBatch(x));
          if (!w || !r) return null;
          const job = 1000 / w.itemsPerS;
          const m = 1000 / r.itemsPerS;
          return `${job.toFixed(3)} ms = model ${m.toFixed(3)} + queue/other ${(job - m).toFixed(3)}`;
        };
        console.log(`${model} [${topology}] per job: batching on ${parts('worker, batching on', (x) => x.batch !== '1') ?? '-'}; off ${parts('worker, batching off', (x) => x.batch === '1') ?? '-'}`);
      }
    }
    console.log(
      `machine: ${machine.cores} cores (${machine.cpu}), node ${machine.node}, load average ${machine.loadAverage.join(' ')}; intra-op threads ${threads} for raw and worker alike; ` +
        `worker sessions: ${threadedSessions ? 'one thread per session (ThreadedModelHost)' : 'inline, on the event loop (OnnxModelHost)'}`,
    );
  }
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(2);
  },
);

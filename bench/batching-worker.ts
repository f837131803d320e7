// The worker side of the batching benchmark's worker path (bench/batching.ts), usable two ways:
//   - imported: `jobProcessor` and `startBenchWorker` build the BullMQ Worker + BatchingRunner
//     that the in-process topology (`--topology inline`) runs next to the producer;
//   - as a child process (`--topology split`, the default; dist/bench/batching-worker.js, spawned
//     by bench/batching.ts with process.execPath and an IPC channel): the same Worker, on its own
//     event loop, as in production where the producers are the gateways. It loads one model in its
//     own host (ThreadedModelHost unless sessions inline), answers `ready` once the model is warm,
//     then serves `start` / `stop` requests, one per measurement. Completions go back to the
//     producer the way a real worker tells the gateways: a Redis pub/sub message per job (the job
//     id and its batch size), published once BullMQ has marked the job completed.
// Bench-only code: not part of the worker app.
import { pathToFileURL } from 'node:url';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { readDevelopmentEnv } from '#infra/config';
import { OCR_LINE_V1 } from '#feature-engine/feature-catalogue';
import { runPipeline } from '#feature-engine/features';
import { DENSE_OUTPUT_NAME, TINY_CLASSIFIER_SPEC } from '#tools/model-builders';
import { float32Tensor } from '#model-service/tensors';
import type { ExecutionProvider } from '#infra/execution-providers';
import { OnnxModelHost, ThreadedModelHost, type ModelHost } from '#model-service/runtime';
import type { ModelEntry } from '#model-service/model-format';
import { createRedis } from '#infra/redis';
import { BatchingRunner, batchingOf, type JobRunner } from '../apps/worker/src/batching/batching-runner.js';

/** What a job does with its data: serialisable, so the child process can rebuild it. */
export type JobSpec = { kind: 'dense'; inputSize: number; outputSize: number } | { kind: 'tiny' } | { kind: 'rec'; expectedText: string } | { kind: 'none' };

/** The job body of a spec: runs the data through the job's runner; an error message or null. */
export function jobProcessor(spec: JobSpec, model: ModelEntry): (data: Record<string, unknown>, runner: JobRunner) => Promise<string | null> {
  switch (spec.kind) {
    case 'dense':
      return async (data, runner) => {
        const out = await runner.run(model, { x: float32Tensor([1, spec.inputSize], data['x'] as number[]) });
        const y = out[DENSE_OUTPUT_NAME];
        return y && y.data.length === spec.outputSize && y.dims[0] === 1 ? null : 'bad output';
      };
    case 'tiny':
      return async (data, runner) => {
        const out = await runner.run(model, { x: float32Tensor([1, TINY_CLASSIFIER_SPEC.inputSize], data['x'] as number[]) });
        const p = out['probs']?.data as Float32Array | undefined;
        return p && p.length === TINY_CLASSIFIER_SPEC.classes && Math.abs(p[0]! + p[1]! + p[2]! - 1) < 1e-5 ? null : 'bad output';
      };
    case 'rec':
      return async (data, runner) => {
        const r = await runPipeline(OCR_LINE_V1, { image: data['image'] }, runner);
        const text = (r.output as { text?: unknown }).text;
        return text === spec.expectedText ? null : `read ${JSON.stringify(text)}`;
      };
    case 'none':
      return async () => null;
  }
}

export interface BenchWorkerOptions {
  redisUrl: string;
  prefix: string;
  queueName: string;
  batching: boolean;
  concurrency: number;
  /** A job completed (batch: the largest batch its model calls ran in) or failed (error). */
  onDone: (jobId: string, outcome: { batch: number } | { error: Error }) => void;
}

/** The BullMQ Worker of the worker path: each job through the BatchingRunner, as the worker app does. */
export async function startBenchWorker(host: ModelHost, model: ModelEntry, spec: JobSpec, o: BenchWorkerOptions): Promise<{ close: () => Promise<void> }> {
  const connection = createRedis(o.redisUrl, 'bench-worker');
  const runner = new BatchingRunner(host, { enabled: o.batching, policy: () => batchingOf(model) });
  const process = jobProcessor(spec, model);
  const worker = new Worker(
    o.queueName,
    async (job: Job<Record<string, unknown>>) => {
      const jobRunner = runner.forJob();
      const error = await process(job.data, jobRunner);
      if (error) throw new Error(error);
      return jobRunner.facts().batchSize;
    },
    { connection, prefix: o.prefix, concurrency: o.concurrency },
  );
  worker.on('completed', (job, batch: number) => o.onDone(job.id ?? '', { batch }));
  worker.on('failed', (job, e) => o.onDone(job?.id ?? '', { error: e }));
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      runner.close();
      connection.disconnect();
    },
  };
}

// ---- child process ---------------------------------------------------------------------------

/** Parent -> child requests; each is answered by a `Reply` with the same id. */
export type Request =
  | { id: number; cmd: 'load'; entry: ModelEntry; executionProviders: ExecutionProvider[]; intraOpThreads: number; threadedSessions: boolean }
  | { id: number; cmd: 'start'; spec: JobSpec; prefix: string; queueName: string; channel: string; batching: boolean; concurrency: number }
  | { id: number; cmd: 'stop' }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'exit' };

export type Reply = { id: number; ok: true; provider?: string; cpuMs?: number } | { id: number; ok: false; error: string };

/** The message a completion publishes on the channel: `<job id> <batch>` or `<job id> !<error>`. */
export function completionMessage(jobId: string, outcome: { batch: number } | { error: Error }): string {
  return 'batch' in outcome ? `${jobId} ${outcome.batch}` : `${jobId} !${outcome.error.message}`;
}

async function child(): Promise<void> {
  const send = (r: Reply) => process.send?.(r);
  const env = readDevelopmentEnv();
  let host: ModelHost | null = null;
  let model: ModelEntry | null = null;
  let running: { close: () => Promise<void>; publisher: Redis } | null = null;

  const handle = async (req: Request): Promise<Partial<Pick<Extract<Reply, { ok: true }>, 'provider' | 'cpuMs'>>> => {
    switch (req.cmd) {
      case 'load': {
        if (host) throw new Error('already loaded');
        host = req.threadedSessions ? new ThreadedModelHost() : new OnnxModelHost();
        const status = await host.load(req.entry, { executionProviders: req.executionProviders, intraOpThreads: req.intraOpThreads });
        if (!status.ready) throw new Error(`model ${req.entry.name} not ready: ${status.error ?? 'unknown'}`);
        model = req.entry;
        return status.provider ? { provider: status.provider } : {};
      }
      case 'start': {
        if (!host || !model) throw new Error('no model loaded');
        if (running) throw new Error('a worker is already running');
        const publisher = createRedis(env.REDIS_URL, 'bench-worker-events');
        const w = await startBenchWorker(host, model, req.spec, {
          redisUrl: env.REDIS_URL,
          prefix: req.prefix,
          queueName: req.queueName,
          batching: req.batching,
          concurrency: req.concurrency,
          onDone: (jobId, outcome) => void publisher.publish(req.channel, completionMessage(jobId, outcome)).catch(() => undefined),
        });
        running = { close: w.close, publisher };
        return {};
      }
      case 'cpu': {
        // User + system CPU of this whole process (event loop, session threads, libuv), ms.
        const u = process.cpuUsage();
        return { cpuMs: (u.user + u.system) / 1000 };
      }
      case 'stop': {
        const r = running;
        running = null;
        if (r) {
          await r.close();
          r.publisher.disconnect();
        }
        return {};
      }
      case 'exit': {
        await running?.close();
        running?.publisher.disconnect();
        running = null;
        await host?.close();
        host = null;
        return {};
      }
    }
  };

  let chain = Promise.resolve();
  process.on('message', (msg: Request) => {
    chain = chain.then(async () => {
      try {
        send({ id: msg.id, ok: true, ...(await handle(msg)) });
      } catch (e) {
        send({ id: msg.id, ok: false, error: e instanceof Error ? e.message : String(e) });
      }
      if (msg.cmd === 'exit') process.disconnect();
    });
  });
  // The parent went away: nothing left to serve.
  process.on('disconnect', () => {
    void chain.then(() => host?.close()).finally(() => process.exit(0));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!process.send) {
    console.error('batching-worker: run by bench/batching.ts (needs an IPC channel)');
    process.exit(2);
  }
  void child();
}

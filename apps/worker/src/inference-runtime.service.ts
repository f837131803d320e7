import { randomBytes } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { WaitingError, Worker, type Job } from 'bullmq';
import { AppConfig } from '#infra/config';
import { Readiness } from '#infra/http';
import { MetricsRegistry } from '#infra/metrics';
import { ModelCatalogue, ModelRegistry, PLATFORM_NAMESPACE, reportWarm, TENANT_POOL, WARM_REFRESH_MS, withdrawWarm } from '#model-service/model-registry';
import { effectiveMaxBatchSize, type ModelEntry } from '#model-service/model-format';
import { modelKey, type ModelRef } from '#model-service/tensors';
import { defaultRunSlots, findPrlimit, OnnxModelHost, ThreadedModelHost, type HostObserver, type ModelStatus } from '#model-service/runtime';
import type { ExecutionProvider } from '#infra/execution-providers';
import { PredictionLifecycle } from '#platform/predictions';
import { FeatureCatalogue } from '#feature-engine/feature-catalogue';
import { INFERENCE_ATTEMPTS, inferenceQueueName, isTensorJob, type InferenceJobData } from '#infra/queue';
import { createRedis, RedisClient, redisTargetOf } from '#infra/redis';
import { BatchingRunner, batchingOf, poolConcurrency, type ModelBatching } from './batching/batching-runner.js';
import { processInferenceJob } from './process-job.js';
import { isUploaded, modelLabels, WorkerMetrics } from './worker-metrics.js';
import { readinessMessage, WorkerModels } from './worker-models.js';
import { resolvePools } from './pools.js';
import { RoutingHost } from './routing-host.js';

/**
 * Loads and warms the model versions of this worker's pools (once each, in the background),
 * then consumes each pool's queue once its models have settled. Readiness is per model: a
 * version serves only after its warm-up inference succeeded; a failed one does not stop the
 * others (its jobs fail with model_unavailable). Warm versions are reported to Redis for
 * GET /v1/models.
 */
@Injectable()
export class InferenceRuntime implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Worker');
  private readonly host: OnnxModelHost;
  private readonly workers: Worker<InferenceJobData>[] = [];
  private readonly pools: string[];
  private readonly metrics: WorkerMetrics;
  private readonly active = new Map<string, number>();
  private readonly models: WorkerModels;
  /** Dynamic batching in front of the host (WORKER_BATCHING, per-model max_batch_size). */
  private readonly batching: BatchingRunner;
  /** The provider each loaded version actually got (max_batch_size_cpu applies on 'cpu'), and the policies decided with it. */
  private readonly providers = new Map<string, ExecutionProvider | null>();
  private readonly policies = new Map<string, ModelBatching>();
  private readonly workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private warmTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Set by drain(): resolves at the drain deadline, when held jobs still running are handed back. */
  private handBack: Promise<void> | undefined;
  private drained: Promise<void> | undefined;
  private draining = false;

  constructor(
    private readonly config: AppConfig,
    private readonly lifecycle: PredictionLifecycle,
    private readonly registry: ModelRegistry,
    private readonly redis: RedisClient,
    catalogue: ModelCatalogue,
    readiness: Readiness,
    metrics: MetricsRegistry,
    private readonly features: FeatureCatalogue,
  ) {
    this.metrics = new WorkerMetrics(metrics);
    // The tenant pool serves uploaded models (loaded on demand): a known pool, served only when named.
    this.pools = resolvePools(config.env.WORKER_POOLS, catalogue.pools().filter((p) => p !== TENANT_POOL), TENANT_POOL, config.env.WORKER_MIXED_POOLS === 'on');
    const observer: HostObserver = {
      onInference: (ref, ms, batch) => {
        const labels = modelLabels(ref);
        this.metrics.inference.observe(labels, ms / 1000);
        this.metrics.batchSize.observe(labels, batch);
        this.metrics.items.inc(labels, batch);
      },
      onLoaded: (s) => this.recordLoad(s),
    };
    // ORT_SESSION_THREADS=on (default): each model version's session runs in its own worker
    // thread, off this event loop (queue work and model work overlap; /healthz answers during a run).
    // At most ORT_CONCURRENT_RUNS runs at once across those threads (0: as many as fit the cores).
    const runs = config.env.ORT_CONCURRENT_RUNS || defaultRunSlots(availableParallelism(), config.env.ORT_INTRA_OP_THREADS);
    const platformHost = config.env.ORT_SESSION_THREADS === 'on' ? new ThreadedModelHost(observer, { maxConcurrentRuns: runs }) : new OnnxModelHost(observer);
    // Uploaded models never run in this process: each in a child process with an empty
    // environment, an address-space limit and a deadline per run (docs/SECURITY.md).
    const prlimit = findPrlimit();
    if (this.pools.includes(TENANT_POOL) && !prlimit) this.logger.warn('prlimit (util-linux) not found: uploaded models run without an address-space limit (their deadline still applies)');
    const tenantHost = this.pools.includes(TENANT_POOL)
      ? new ThreadedModelHost(observer, {
          isolation: {
            runDeadlineMs: config.env.TENANT_RUN_DEADLINE_MS,
            addressSpaceBytes: config.env.TENANT_MODEL_MEMORY_MB * 1024 * 1024,
            prlimit,
            // Outputs at most as large as the largest input a v2 request may carry (8 bytes per element).
            maxOutputBytes: config.env.V2_MAX_ELEMENTS * 8,
          },
        })
      : null;
    this.host = tenantHost ? new RoutingHost(platformHost, tenantHost) : platformHost;
    this.models = new WorkerModels(
      this.host,
      catalogue.entries().filter((m) => this.pools.includes(m.pool)),
      { executionProviders: config.env.ORT_EXECUTION_PROVIDERS, intraOpThreads: config.env.ORT_INTRA_OP_THREADS, log: (msg) => this.logger.log(msg) },
      this.pools.includes(TENANT_POOL) ? { storageDir: config.env.MODEL_STORAGE_DIR, maxModels: config.env.WORKER_MAX_UPLOADED_MODELS } : null,
    );
    const catalogued = new Map(this.models.entries.map((m) => [modelKey(m), m]));
    this.batching = new BatchingRunner(this.host, {
      enabled: config.env.WORKER_BATCHING === 'on',
      // Catalogued versions, then uploaded ones this worker holds; decided once the session's provider is known.
      policy: (ref) => {
        const key = modelKey(ref);
        const cached = this.policies.get(key);
        if (cached) return cached;
        const entry: ModelEntry | undefined = catalogued.get(key) ?? this.models.uploadedEntry(ref);
        if (!entry) return undefined;
        const policy = batchingOf(entry, this.providers.get(key));
        if (this.providers.has(key)) this.policies.set(key, policy);
        return policy;
      },
    });
    readiness.register('models', async () => {
      const r = this.models.readiness();
      if (!r.ready) throw new Error(readinessMessage(r));
    });
  }

  onModuleInit(): void {
    // Load in the background: /healthz answers at once, /readyz once the models are warm.
    void this.start().catch((e: unknown) => this.logger.error(`start failed: ${e instanceof Error ? e.message : String(e)}`));
  }

  private recordLoad(s: ModelStatus): void {
    const labels = modelLabels(s);
    this.providers.set(modelKey(s), s.provider);
    this.policies.delete(modelKey(s));
    if (isUploaded(s)) {
      // Uploaded models: counters only (gauges per tenant model would be per-tenant series).
      if (!s.ready) this.metrics.loadFailures.inc(labels);
      else this.publishWarm();
    } else if (s.ready) {
      this.metrics.provider.set({ ...labels, provider: s.provider ?? 'none' }, 1);
      this.metrics.loadSeconds.set({ ...labels, phase: 'load' }, (s.loadMs ?? 0) / 1000);
      this.metrics.loadSeconds.set({ ...labels, phase: 'warmup' }, (s.warmupMs ?? 0) / 1000);
      this.metrics.sessions.set(labels, 1);
      for (const f of s.providerFallbacks) this.logger.warn(`model ${s.name}@${s.version}: ${f.provider} unavailable, running on ${s.provider ?? 'none'}`);
      // Which provider each model got, in the log as in stratum_model_execution_provider (docs/DEPLOY.md).
      this.logger.log(`model ${s.name}@${s.version}: ready on ${s.provider ?? 'none'} (load ${Math.round(s.loadMs ?? 0)} ms, warm-up ${Math.round(s.warmupMs ?? 0)} ms)`);
      this.publishWarm();
    } else {
      this.metrics.sessions.set(labels, 0);
      this.metrics.loadFailures.inc(labels);
    }
  }

  private publishWarm(): void {
    if (this.stopped) return;
    reportWarm(this.redis.redis, this.redis.prefix, this.workerId, this.models.readyRefs()).catch((e: unknown) =>
      this.logger.warn(`could not report warm models: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  private async start(): Promise<void> {
    // The registry decides which bytes a version is: a version whose artifact differs from
    // the registered sha256 is refused (never served).
    const report = await this.registry.synced();
    this.warmTimer = setInterval(() => this.publishWarm(), WARM_REFRESH_MS);
    this.warmTimer.unref();
    for (const pool of this.pools) this.metrics.workersReady.set({ pool }, 0);
    for (const pool of this.pools) {
      if (this.stopped) return;
      const entries = this.models.entries.filter((m) => m.pool === pool);
      await this.models.load(entries, report.refused);
      if (this.stopped) return;
      this.consume(pool);
      this.metrics.workersReady.set({ pool }, 1);
    }
    // Report at once (not at the first refresh): a tenant-pool worker has no model load to trigger it.
    this.publishWarm();
    const r = this.models.readiness();
    this.logger.log(
      `serving pool(s) ${this.pools.join(', ')} with concurrency ${this.config.env.WORKER_CONCURRENCY}` + (r.failed.length ? ` (unavailable: ${r.failed.map((f) => f.model).join(', ')})` : ''),
    );
  }

  private consume(pool: string): void {
    // Enough jobs in flight to fill the pool's batches (see poolConcurrency).
    const batchSizes = this.models.entries.filter((m) => m.pool === pool).map((m) => effectiveMaxBatchSize(m.config, this.providers.get(modelKey(m))));
    const concurrency = poolConcurrency(this.config.env.WORKER_CONCURRENCY, batchSizes, this.batching.enabled);
    const connection = createRedis(redisTargetOf(this.config.env), `stratum-worker-${pool}`);
    connection.on('error', (e: Error) => this.logger.warn(`redis: ${e.message}`));
    this.active.set(pool, 0);
    this.metrics.busy.set({ pool }, 0);
    this.metrics.workersBusy.set({ pool }, 0);
    const worker = new Worker<InferenceJobData>(
      inferenceQueueName(pool),
      async (job: Job<InferenceJobData>, token?: string) => {
        // Fetched as the drain began: back to the queue at once, untouched.
        if (this.draining) return this.giveBack(pool, job, token, 'taken as the drain began, returned untouched');
        this.active.set(pool, (this.active.get(pool) ?? 0) + 1);
        this.metrics.busy.set({ pool }, (this.active.get(pool) ?? 0) / concurrency);
        this.metrics.workersBusy.set({ pool }, 1);
        const startedAt = performance.now();
        const waited = Math.max(0, Date.now() - job.data.enqueuedAt) / 1000;
        this.metrics.jobWait.observe({ pool }, waited);
        const uploaded = isTensorJob(job.data) && job.data.model.namespace !== PLATFORM_NAMESPACE;
        for (const m of job.data.models) this.metrics.modelQueueWait.observe(uploaded ? modelLabels({ name: `upload/${m.name}`, version: m.version }) : modelLabels(m), waited);
        const runner = this.batching.forJob();
        // Once handed back, this run records nothing (another worker runs the job); once it
        // started recording its result, it is not handed back (it finishes).
        const guard = { handedBack: false, finishing: false };
        const lifecycle: Pick<PredictionLifecycle, 'start' | 'succeed' | 'fail'> = {
          start: (...a) => this.lifecycle.start(...a),
          succeed: (...a) => (guard.handedBack ? Promise.resolve(false) : ((guard.finishing = true), this.lifecycle.succeed(...a))),
          fail: (...a) => (guard.handedBack ? Promise.resolve(false) : ((guard.finishing = true), this.lifecycle.fail(...a))),
        };
        try {
          const work = processInferenceJob(
            { data: job.data, attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? INFERENCE_ATTEMPTS },
            { lifecycle, runner, batchFacts: () => runner.facts(), models: this.models, features: this.features, modelDigest: (ref) => this.digestOf(ref) },
          );
          const HANDED_BACK = Symbol('handed back');
          const first = await Promise.race([work, this.deadline().then(() => HANDED_BACK)]);
          if (first === HANDED_BACK && !guard.finishing) {
            guard.handedBack = true;
            work.catch(() => undefined);
            return await this.giveBack(pool, job, token, 'still running at the drain deadline');
          }
          const outcome = first === HANDED_BACK ? await work : (first as Awaited<typeof work>);
          this.metrics.jobs.inc({ pool, outcome });
          return outcome;
        } catch (e) {
          if (!(e instanceof WaitingError)) this.metrics.jobs.inc({ pool, outcome: 'error' });
          throw e;
        } finally {
          this.metrics.service.observe({ pool }, (performance.now() - startedAt) / 1000);
          this.active.set(pool, (this.active.get(pool) ?? 1) - 1);
          this.metrics.busy.set({ pool }, (this.active.get(pool) ?? 0) / concurrency);
          if ((this.active.get(pool) ?? 0) === 0) this.metrics.workersBusy.set({ pool }, 0);
        }
      },
      {
        connection,
        prefix: this.config.env.REDIS_PREFIX,
        concurrency,
        // A worker that dies mid-job stops renewing its locks: within WORKER_LOCK_MS +
        // WORKER_STALLED_CHECK_MS another worker takes the job again (the lifecycle makes the
        // second run bill nothing twice). Twice stalled, the job fails and recovery fails the prediction.
        lockDuration: this.config.env.WORKER_LOCK_MS,
        stalledInterval: this.config.env.WORKER_STALLED_CHECK_MS,
        maxStalledCount: 2,
      },
    );
    worker.on('error', (e: Error) => this.logger.warn(`queue ${pool}: ${e.message}`));
    worker.on('failed', (job, e) => this.logger.warn(`job ${job?.id ?? '?'} failed: ${e.message}`));
    this.workers.push(worker);
  }

  /** The sha256 of the artifact loaded for a version (uploaded ones are keyed `<orgId>/<name>` in the host). */
  private digestOf(ref: ModelRef): string | null | undefined {
    return this.host.status().find((s) => s.name === ref.name && s.version === ref.version)?.sha256;
  }

  /** Never resolves until a drain started; then at its deadline. */
  private deadline(): Promise<void> {
    return this.handBack ?? new Promise<void>((resolve) => this.deadlineWaiters.push(resolve));
  }

  private readonly deadlineWaiters: Array<() => void> = [];

  /** Puts a job this worker holds back in the queue (waiting, its priority kept; attempts unchanged) and tells BullMQ so. */
  private async giveBack(pool: string, job: Job<InferenceJobData>, token: string | undefined, why: string): Promise<never> {
    await job.moveToWait(token);
    this.metrics.jobs.inc({ pool, outcome: 'handed_back' });
    this.logger.log(`job ${job.id ?? '?'} handed back to the ${pool} queue (${why})`);
    throw new WaitingError();
  }

  /**
   * Drain (SIGTERM, POST /drain): take no new job, let the held ones finish until
   * WORKER_DRAIN_TIMEOUT_MS, hand back those still running, then close. Idempotent.
   */
  drain(): Promise<void> {
    this.drained ??= (async () => {
      this.draining = true;
      this.stopped = true;
      clearInterval(this.warmTimer);
      for (const pool of this.pools) this.metrics.workersReady.set({ pool }, 0);
      await withdrawWarm(this.redis.redis, this.redis.prefix, this.workerId, this.models.readyRefs()).catch(() => undefined);
      const held = [...this.active.values()].reduce((a, b) => a + b, 0);
      const timeoutMs = this.config.env.WORKER_DRAIN_TIMEOUT_MS;
      this.logger.log(`draining: ${held} job(s) held, taking no new ones; those still running in ${timeoutMs} ms go back to the queue`);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      // Stop fetching at once (close() would wait for the held jobs before it stops the fetch loop's next take).
      await Promise.allSettled(this.workers.map((w) => w.pause(true)));
      const closing = Promise.allSettled(this.workers.map((w) => w.close()));
      await Promise.race([closing, deadline]);
      this.handBack = Promise.resolve();
      for (const wake of this.deadlineWaiters.splice(0)) wake();
      await closing;
      clearTimeout(timer);
      this.logger.log('drained');
    })();
    return this.drained;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.drain();
    this.batching.close();
    await this.host.close();
  }
}

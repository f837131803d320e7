/**
 * The worker's dynamic batching: a ModelRunner in front of the host that gathers the
 * concurrent calls for one model version (and one batch shape) into a single
 * `session.run`, then splits the outputs back per call. Plain class, no Nest.
 */
import { BatchItemError, batchKey, DynamicBatcher, splitOutputs, stackFeeds, type BatchPolicy, type Feeds, type ItemOutcome, type PaddingRule } from '#model-service/batching';
import { ProblemError } from '#infra/errors';
import { effectiveMaxBatchSize, type ModelEntry } from '#model-service/model-format';
import { elementCount, modelKey, type ModelRef, type ModelRunner, type TensorData } from '#model-service/tensors';
import type { ExecutionProvider } from '#infra/execution-providers';

/** How one model version is batched. `maxBatchSize` 1 turns batching off for it. */
export interface ModelBatching extends BatchPolicy {
  padding: readonly PaddingRule[];
}

/** The batching facts of one model call: the batch it ran in and how long it waited for it. */
export interface CallFacts {
  batchSize: number;
  /** Time between the call and the start of its batch's run. */
  queueMs: number;
  /** Wall time of the batch's run. */
  computeMs: number;
}

export interface BatchingObserver {
  /** One batch run: its size and its wall time (ms). */
  onBatch?(ref: ModelRef, size: number, computeMs: number): void;
}

export interface BatchingRunnerOptions {
  /** false: every call runs alone (the switch the benchmark flips). */
  enabled: boolean;
  /** The batching policy of a model version; undefined runs its calls alone. */
  policy: (ref: ModelRef) => ModelBatching | undefined;
  observer?: BatchingObserver;
}

/**
 * The policy a model version's config asks for on a session that runs on `provider` (the
 * provider it actually got: `max_batch_size_cpu` applies on the CPU; unknown: max_batch_size).
 */
export function batchingOf(entry: Pick<ModelEntry, 'config'>, provider?: ExecutionProvider | null): ModelBatching {
  return {
    maxBatchSize: effectiveMaxBatchSize(entry.config, provider),
    maxQueueDelayMs: entry.config.maxQueueDelayMs,
    padding: (entry.config.padding ?? []).map((p) => ({
      input: p.input,
      axis: p.axis,
      ...(p.value !== undefined ? { value: p.value } : {}),
      ...(p.trimOutputs ? { trimOutputs: p.trimOutputs.map((t) => ({ ...t })) } : {}),
    })),
  };
}

/**
 * BullMQ slots per pool: enough jobs in flight to fill a batch while the previous one
 * runs (twice the pool's largest max_batch_size), and never fewer than WORKER_CONCURRENCY.
 */
export function poolConcurrency(workerConcurrency: number, maxBatchSizes: readonly number[], batching: boolean): number {
  const largest = Math.max(1, ...maxBatchSizes);
  if (!batching || largest <= 1) return workerConcurrency;
  return Math.min(1024, Math.max(workerConcurrency, 2 * largest));
}

/** A tensor whose data does not match its dims would corrupt its neighbours once stacked. */
function checkFeeds(ref: ModelRef, feeds: Feeds): void {
  for (const [name, t] of Object.entries(feeds)) {
    const size = elementCount(t.dims);
    if (t.data.length !== size) {
      throw new ProblemError('invalid_input', `Tensor "${name}" for model ${modelKey(ref)} has ${t.data.length} values for dims [${t.dims.join(',')}] (${size} expected)`);
    }
  }
}

/** Batchable: every input has rank >= 1, exactly one row, and all inputs agree on it. */
function singleRow(feeds: Feeds): boolean {
  const tensors = Object.values(feeds);
  return tensors.length > 0 && tensors.every((t: TensorData) => t.dims.length >= 1 && t.dims[0] === 1);
}

export class BatchingRunner implements ModelRunner {
  private readonly batchers = new Map<string, DynamicBatcher<Feeds, Feeds>>();
  private readonly policies = new Map<string, ModelBatching>();
  private closed = false;

  constructor(
    private readonly host: ModelRunner,
    private readonly opts: BatchingRunnerOptions,
  ) {}

  get enabled(): boolean {
    return this.opts.enabled;
  }

  /** Sets the policy of a version the options' lookup does not know (e.g. one loaded on demand). */
  setPolicy(ref: ModelRef, policy: ModelBatching): void {
    this.policies.set(modelKey(ref), policy);
  }

  run(model: ModelRef, feeds: Feeds): Promise<Feeds> {
    return this.runWithFacts(model, feeds).then((r) => r.outputs);
  }

  /**
   * Runs one call, batched with concurrent calls for the same model version and shape
   * when its policy allows. Errors are the host's own (ProblemError stays ProblemError);
   * `onFacts` hears the batch facts of failed calls too.
   */
  async runWithFacts(model: ModelRef, feeds: Feeds, onFacts?: (f: CallFacts) => void): Promise<{ outputs: Feeds; facts: CallFacts }> {
    const policy = this.opts.enabled ? (this.policies.get(modelKey(model)) ?? this.opts.policy(model)) : undefined;
    if (!policy || policy.maxBatchSize <= 1 || !singleRow(feeds) || this.closed) return this.runAlone(model, feeds, onFacts);
    const key = `${modelKey(model)}|${batchKey(feeds, policy.padding)}`;
    let batcher = this.batchers.get(key);
    if (!batcher) {
      const ref = { name: model.name, version: model.version };
      batcher = new DynamicBatcher<Feeds, Feeds>(
        { maxBatchSize: policy.maxBatchSize, maxQueueDelayMs: policy.maxQueueDelayMs, ...(policy.maxConcurrentBatches ? { maxConcurrentBatches: policy.maxConcurrentBatches } : {}) },
        (items) => this.runBatch(ref, items, policy.padding),
        { onBatch: (size, ms) => this.opts.observer?.onBatch?.(ref, size, ms) },
      );
      this.batchers.set(key, batcher);
    }
    try {
      const r = await batcher.submit(feeds);
      const facts = { batchSize: r.batchSize, queueMs: r.queueMs, computeMs: r.computeMs };
      onFacts?.(facts);
      return { outputs: r.value, facts };
    } catch (e) {
      if (e instanceof BatchItemError) {
        onFacts?.({ batchSize: e.batchSize, queueMs: e.queueMs, computeMs: e.computeMs });
        // The host's own error (a ProblemError keeps its code and status).
        throw e.cause instanceof Error ? e.cause : e;
      }
      throw e;
    }
  }

  private async runAlone(model: ModelRef, feeds: Feeds, onFacts?: (f: CallFacts) => void): Promise<{ outputs: Feeds; facts: CallFacts }> {
    const started = performance.now();
    const report = () => {
      const facts = { batchSize: 1, queueMs: 0, computeMs: performance.now() - started };
      onFacts?.(facts);
      return facts;
    };
    try {
      const outputs = await this.host.run(model, feeds);
      const facts = report();
      this.opts.observer?.onBatch?.(model, 1, facts.computeMs);
      return { outputs, facts };
    } catch (e) {
      report();
      throw e;
    }
  }

  /** One session.run for the batch; a single item skips the copies. Throwing makes the batcher isolate the items. */
  private async runBatch(ref: ModelRef, items: readonly Feeds[], padding: readonly PaddingRule[]): Promise<ItemOutcome<Feeds>[]> {
    const outcomes: (ItemOutcome<Feeds> | null)[] = items.map((feeds) => {
      try {
        checkFeeds(ref, feeds);
        return null;
      } catch (e) {
        return { ok: false, error: e as Error };
      }
    });
    const good = items.filter((_, i) => outcomes[i] === null);
    if (good.length === 1) {
      const out = await this.host.run(ref, good[0]!);
      return outcomes.map((o) => o ?? { ok: true, value: out });
    }
    if (good.length > 1) {
      const stacked = stackFeeds(good, padding);
      const split = splitOutputs(await this.host.run(ref, stacked.feeds), stacked);
      let next = 0;
      return outcomes.map((o) => o ?? { ok: true, value: split[next++]! });
    }
    return outcomes.map((o) => o!);
  }

  /** Runs the calls already queued, refuses batching for new ones (they run alone). */
  close(): void {
    this.closed = true;
    for (const b of this.batchers.values()) b.close();
    this.batchers.clear();
  }

  /** A runner for one job: the same batching, plus the facts of that job's calls. */
  forJob(): JobRunner {
    return new JobRunner(this);
  }
}

/** What a job records about batching: its largest batch and its total wait for batches. */
export interface JobBatchFacts {
  /** Largest batch any of the job's model calls ran in (1 when it made none). */
  batchSize: number;
  /** Sum of the job's waits for its batches (ms). */
  batchQueueMs: number;
  /** Sum of the wall times of the batches its calls ran in (ms). */
  computeMs: number;
  calls: number;
}

/** A per-job ModelRunner: delegates to the shared BatchingRunner and sums the job's facts. */
export class JobRunner implements ModelRunner {
  private readonly totals: JobBatchFacts = { batchSize: 1, batchQueueMs: 0, computeMs: 0, calls: 0 };

  constructor(private readonly runner: BatchingRunner) {}

  run(model: ModelRef, feeds: Feeds): Promise<Feeds> {
    return this.runner
      .runWithFacts(model, feeds, (f) => {
        this.totals.calls++;
        this.totals.batchSize = Math.max(this.totals.batchSize, f.batchSize);
        this.totals.batchQueueMs += f.queueMs;
        this.totals.computeMs += f.computeMs;
      })
      .then((r) => r.outputs);
  }

  facts(): JobBatchFacts {
    return { ...this.totals };
  }
}

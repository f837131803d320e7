/**
 * Dynamic batching, as Triton does it: items for one model version are gathered until
 * the batch is full or the oldest item has waited `maxQueueDelayMs`, whichever comes
 * first, then run together. Pure (no Nest, no onnxruntime): the runner is injected.
 */

export interface BatchPolicy {
  /** Largest number of items in one run (1 disables batching). */
  maxBatchSize: number;
  /** Longest time the oldest pending item waits for company before its batch runs. */
  maxQueueDelayMs: number;
  /** Batches of this model run at the same time at most (default 1). */
  maxConcurrentBatches?: number;
}

/** What one item got from its batch: its result or its own error, and the batch it ran in. */
export type ItemOutcome<O> = { ok: true; value: O } | { ok: false; error: Error };

/**
 * Runs one batch. Returns one outcome per item, in order. Throwing means the whole
 * batch failed: the batcher then runs every item alone, so one bad item fails only itself.
 */
export type BatchRunner<I, O> = (items: readonly I[]) => Promise<readonly ItemOutcome<O>[]>;

export interface BatchResult<O> {
  value: O;
  /** Items in the run that produced this result. */
  batchSize: number;
  /** Time from submit to the start of the run. */
  queueMs: number;
  /** Wall time of the run. */
  computeMs: number;
}

export interface BatchObserver {
  onBatch?(size: number, computeMs: number): void;
}

interface Pending<I, O> {
  item: I;
  enqueuedAt: number;
  resolve: (r: BatchResult<O>) => void;
  reject: (e: Error) => void;
}

export class BatchItemError extends Error {
  constructor(
    message: string,
    readonly batchSize: number,
    readonly queueMs: number,
    readonly computeMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BatchItemError';
  }
}

export function validatePolicy(policy: BatchPolicy): void {
  if (!Number.isInteger(policy.maxBatchSize) || policy.maxBatchSize < 1) throw new RangeError(`maxBatchSize must be a positive integer, got ${policy.maxBatchSize}`);
  if (!Number.isFinite(policy.maxQueueDelayMs) || policy.maxQueueDelayMs < 0) throw new RangeError(`maxQueueDelayMs must be >= 0, got ${policy.maxQueueDelayMs}`);
  const c = policy.maxConcurrentBatches ?? 1;
  if (!Number.isInteger(c) || c < 1) throw new RangeError(`maxConcurrentBatches must be a positive integer, got ${c}`);
}

export class DynamicBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly policy: BatchPolicy,
    private readonly runner: BatchRunner<I, O>,
    private readonly observer: BatchObserver = {},
    clock: () => number = () => performance.now(),
  ) {
    validatePolicy(policy);
    this.now = clock;
  }

  /** Items waiting for a run. */
  get pending(): number {
    return this.queue.length;
  }

  submit(item: I): Promise<BatchResult<O>> {
    if (this.closed) return Promise.reject(new Error('batcher closed'));
    return new Promise<BatchResult<O>>((resolve, reject) => {
      this.queue.push({ item, enqueuedAt: this.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Refuse new items; pending ones still run. */
  close(): void {
    this.closed = true;
    this.schedule(true);
  }

  private get maxConcurrent(): number {
    return this.policy.maxConcurrentBatches ?? 1;
  }

  private schedule(flushNow = false): void {
    while (this.queue.length > 0 && this.running < this.maxConcurrent) {
      const full = this.queue.length >= this.policy.maxBatchSize;
      const oldest = this.queue[0]!;
      const waited = this.now() - oldest.enqueuedAt;
      if (!(full || flushNow || this.closed || waited >= this.policy.maxQueueDelayMs)) {
        this.arm(this.policy.maxQueueDelayMs - waited);
        return;
      }
      this.disarm();
      void this.runBatch(this.queue.splice(0, this.policy.maxBatchSize));
      flushNow = false;
    }
  }

  private arm(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.schedule(true);
    }, Math.max(0, ms));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async runBatch(batch: Pending<I, O>[]): Promise<void> {
    this.running++;
    const started = this.now();
    try {
      let outcomes: readonly ItemOutcome<O>[];
      try {
        outcomes = await this.runner(batch.map((p) => p.item));
        if (outcomes.length !== batch.length) throw new Error(`runner returned ${outcomes.length} outcomes for ${batch.length} items`);
      } catch (e) {
        if (batch.length === 1) outcomes = [{ ok: false, error: asError(e) }];
        else outcomes = await this.isolate(batch);
      }
      const computeMs = this.now() - started;
      this.observer.onBatch?.(batch.length, computeMs);
      batch.forEach((p, i) => {
        const o = outcomes[i]!;
        const queueMs = started - p.enqueuedAt;
        if (o.ok) p.resolve({ value: o.value, batchSize: batch.length, queueMs, computeMs });
        else p.reject(new BatchItemError(o.error.message, batch.length, queueMs, computeMs, { cause: o.error }));
      });
    } finally {
      this.running--;
      // Items that arrived during the run have already waited: run them now.
      this.schedule(true);
    }
  }

  /** The whole batch failed: run each item alone so only the bad ones fail. */
  private async isolate(batch: Pending<I, O>[]): Promise<ItemOutcome<O>[]> {
    const out: ItemOutcome<O>[] = [];
    for (const p of batch) {
      try {
        const [o] = await this.runner([p.item]);
        out.push(o ?? { ok: false, error: new Error('runner returned no outcome') });
      } catch (e) {
        out.push({ ok: false, error: asError(e) });
      }
    }
    return out;
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

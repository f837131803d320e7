// BatchingRunner against a fake host (pure JS model: y = 2x per row), so batch formation,
// splitting, failure isolation and per-job facts are checked without onnxruntime.
import { describe, expect, it } from '@jest/globals';
import { isProblemError, ProblemError } from '#infra/errors';
import { float32Tensor, type ModelRef, type ModelRunner, type TensorData } from '#model-service/tensors';
import { BatchingRunner, batchingOf, poolConcurrency, type ModelBatching } from './batching-runner.js';

const MODEL: ModelRef = { name: 'double', version: '1' };

/** Doubles x row-wise; a batch holding a NaN throws as a whole (as a broken session.run would). */
function fakeHost() {
  const runs: number[][] = [];
  const host: ModelRunner = {
    async run(_ref, feeds) {
      const x = feeds['x']!;
      runs.push(x.dims);
      await Promise.resolve();
      if (Array.from(x.data as Float32Array).some(Number.isNaN)) throw new ProblemError('invalid_input', 'NaN in input');
      return { y: { dtype: 'float32', dims: [...x.dims], data: (x.data as Float32Array).map((v) => v * 2) } };
    },
  };
  return { host, runs };
}

const row = (...values: number[]): Record<string, TensorData> => ({ x: float32Tensor([1, values.length], values) });
const policy = (p: Partial<ModelBatching> = {}): ModelBatching => ({ maxBatchSize: 4, maxQueueDelayMs: 1_000, padding: [], ...p });

describe('BatchingRunner', () => {
  it('runs concurrent calls as one batch and gives each call its own rows', async () => {
    const { host, runs } = fakeHost();
    const runner = new BatchingRunner(host, { enabled: true, policy: () => policy() });
    const results = await Promise.all([1, 2, 3, 4].map((i) => runner.runWithFacts(MODEL, row(i, -i))));
    expect(runs).toEqual([[4, 2]]);
    expect(results.map((r) => Array.from(r.outputs['y']!.data as Float32Array))).toEqual([[2, -2], [4, -4], [6, -6], [8, -8]]);
    expect(results.map((r) => r.outputs['y']!.dims)).toEqual([[1, 2], [1, 2], [1, 2], [1, 2]]);
    expect(results.every((r) => r.facts.batchSize === 4 && r.facts.queueMs >= 0 && r.facts.computeMs >= 0)).toBe(true);
    runner.close();
  });

  it('keeps different shapes in different batches', async () => {
    const { host, runs } = fakeHost();
    const runner = new BatchingRunner(host, { enabled: true, policy: () => policy({ maxBatchSize: 2 }) });
    await Promise.all([runner.run(MODEL, row(1, 2)), runner.run(MODEL, row(1, 2, 3)), runner.run(MODEL, row(3, 4)), runner.run(MODEL, row(4, 5, 6))]);
    expect(runs.sort()).toEqual([
      [2, 2],
      [2, 3],
    ]);
    runner.close();
  });

  it('fails only the bad item of a batch, with the host error, and reports its facts', async () => {
    const { host, runs } = fakeHost();
    const runner = new BatchingRunner(host, { enabled: true, policy: () => policy({ maxBatchSize: 3 }) });
    const facts: number[] = [];
    const settled = await Promise.allSettled([row(1), row(Number.NaN), row(3)].map((f) => runner.runWithFacts(MODEL, f, (x) => facts.push(x.batchSize))));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const reason = (settled[1] as PromiseRejectedResult).reason as unknown;
    expect(isProblemError(reason) && reason.code).toBe('invalid_input');
    // The whole batch threw, then each item ran alone.
    expect(runs).toEqual([[3, 1], [1, 1], [1, 1], [1, 1]]);
    expect(facts).toEqual([3, 3, 3]);
    runner.close();
  });

  it('refuses an item whose data does not match its dims without failing its batch', async () => {
    const { host, runs } = fakeHost();
    const runner = new BatchingRunner(host, { enabled: true, policy: () => policy({ maxBatchSize: 3 }) });
    const broken = { x: { dtype: 'float32' as const, dims: [1, 2], data: new Float32Array(1) } };
    const settled = await Promise.allSettled([runner.run(MODEL, row(1, 1)), runner.run(MODEL, broken), runner.run(MODEL, row(2, 2))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((settled[1] as PromiseRejectedResult).reason as ProblemError).code).toBe('invalid_input');
    expect(runs).toEqual([[2, 2]]);
    runner.close();
  });

  it('runs every call alone when batching is off, the model has max batch 1, or no policy', async () => {
    for (const opts of [
      { enabled: false, policy: () => policy() },
      { enabled: true, policy: () => policy({ maxBatchSize: 1 }) },
      { enabled: true, policy: () => undefined },
    ]) {
      const { host, runs } = fakeHost();
      const runner = new BatchingRunner(host, opts);
      const results = await Promise.all([1, 2, 3].map((i) => runner.runWithFacts(MODEL, row(i))));
      expect(runs).toEqual([[1, 1], [1, 1], [1, 1]]);
      expect(results.map((r) => r.facts.batchSize)).toEqual([1, 1, 1]);
    }
  });

  it('sums a job\'s batch waits and keeps its largest batch', async () => {
    const { host } = fakeHost();
    const runner = new BatchingRunner(host, { enabled: true, policy: () => policy({ maxBatchSize: 2, maxQueueDelayMs: 50 }) });
    const job = runner.forJob();
    const other = runner.forJob();
    await Promise.all([job.run(MODEL, row(1)), other.run(MODEL, row(2))]);
    // Alone, the second call waits the whole max queue delay for a companion.
    await job.run(MODEL, row(3));
    const f = job.facts();
    expect(f.calls).toBe(2);
    expect(f.batchSize).toBe(2);
    expect(f.batchQueueMs).toBeGreaterThanOrEqual(45);
    expect(other.facts()).toMatchObject({ calls: 1, batchSize: 2 });
    runner.close();
  });
});

describe('poolConcurrency', () => {
  it('keeps twice the largest batch in flight when batching, never less than WORKER_CONCURRENCY', () => {
    expect(poolConcurrency(4, [4, 16, 1], true)).toBe(32);
    expect(poolConcurrency(64, [4], true)).toBe(64);
    expect(poolConcurrency(4, [16], false)).toBe(4);
    expect(poolConcurrency(4, [1, 1], true)).toBe(4);
    expect(poolConcurrency(4, [], true)).toBe(4);
  });
});

describe('batchingOf', () => {
  it('uses max_batch_size_cpu when the session actually runs on the CPU, max_batch_size otherwise', async () => {
    const config = { maxBatchSize: 4, maxBatchSizeCpu: 1, maxQueueDelayMs: 5, graphOptimizationLevel: 'all' as const, enableMemArena: true, warmup: 'auto' as const };
    expect(batchingOf({ config }, 'cpu')).toMatchObject({ maxBatchSize: 1, maxQueueDelayMs: 5 });
    expect(batchingOf({ config }, 'cuda').maxBatchSize).toBe(4);
    expect(batchingOf({ config }).maxBatchSize).toBe(4);
    expect(batchingOf({ config: { ...config, maxBatchSizeCpu: undefined } }, 'cpu').maxBatchSize).toBe(4);

    // On a CPU session such a model's concurrent calls run alone.
    const { host, runs } = fakeHost();
    const runner = new BatchingRunner(host, { enabled: true, policy: () => batchingOf({ config }, 'cpu') });
    await Promise.all([1, 2, 3].map((i) => runner.run(MODEL, row(i))));
    expect(runs).toEqual([[1, 1], [1, 1], [1, 1]]);
    runner.close();
  });
});

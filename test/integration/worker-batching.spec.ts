// Dynamic batching in the worker against the real onnxruntime sessions: batched results
// equal unbatched ones (tiny classifier, exact known outputs; ppocr-rec with padded line
// widths), a bad item fails alone, and a job records the batch it ran in.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { repoRoot } from '#infra/db';
import { isProblemError } from '#infra/errors';
import { OCR_LINE_V1, OCR_V1 } from '#feature-engine/feature-catalogue';
import { runPipeline, type FeatureResult } from '#feature-engine/features';
import { findShippedModel, type ModelEntry } from '#model-service/model-format';
import { float32Tensor, type ModelRunner, type TensorData } from '#model-service/tensors';
import { OnnxModelHost } from '#model-service/runtime';
import { TINY_CLASSIFIER_SPEC, TINY_MODEL, tinyClassifierReference } from '#tools/model-builders';
import type { PredictionMetrics } from '#platform/predictions';
import type { FeatureJobData } from '#infra/queue';
import { BatchingRunner, batchingOf } from '../../apps/worker/src/batching/batching-runner.js';
import { processInferenceJob } from '../../apps/worker/src/process-job.js';
import { renderPage } from '../support/render-text.js';

const { inputSize, classes, weights, bias } = TINY_CLASSIFIER_SPEC;
let dir: string;
let host: OnnxModelHost;
let tiny: ModelEntry;
let rec: ModelEntry;
const batchesSeen: { model: string; size: number }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stratum-batching-'));
  host = new OnnxModelHost({ onInference: (ref, _ms, size) => batchesSeen.push({ model: ref.name, size }) });
  tiny = TINY_MODEL.entry(join(dir, 'tiny.onnx'));
  rec = findShippedModel('ppocr-rec')!;
  await host.load(tiny, { executionProviders: ['cpu'], intraOpThreads: 1 });
  await host.load(rec, { executionProviders: ['cpu'], intraOpThreads: 1 });
}, 60_000);

afterAll(async () => {
  await host?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A runner over the real host with the given entries' own config, max queue delay widened so concurrent calls surely meet. */
/** `sizes`: a max batch size per model name, overriding the model's own. */
function runnerFor(entries: ModelEntry[], delayMs = 200, sizes: Record<string, number> = {}): BatchingRunner {
  const policies = new Map(entries.map((e) => [`${e.name}@${e.version}`, { ...batchingOf(e), maxQueueDelayMs: delayMs, ...(sizes[e.name] ? { maxBatchSize: sizes[e.name] } : {}) }]));
  return new BatchingRunner(host, { enabled: true, policy: (ref) => policies.get(`${ref.name}@${ref.version}`) });
}

/** The middle column of the widest run of blank columns between the first and last ink. */
async function wordGapColumn(png: Buffer): Promise<number> {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  const ink = Array.from({ length: info.width }, (_, x) => {
    for (let y = 0; y < info.height; y++) if (data[y * info.width + x]! < 128) return true;
    return false;
  });
  const first = ink.indexOf(true);
  const last = ink.lastIndexOf(true);
  let best = { start: 0, length: 0 };
  for (let x = first, start = -1; x <= last; x++) {
    if (!ink[x] && start < 0) start = x;
    if (ink[x] && start >= 0) {
      if (x - start > best.length) best = { start, length: x - start };
      start = -1;
    }
  }
  if (best.length === 0) throw new Error('no gap between words');
  return best.start + Math.floor(best.length / 2);
}

const input = (i: number) => Array.from({ length: inputSize }, (_, k) => Math.sin(i * 7.3 + k * 1.1) * 3);

describe('batched inference equals unbatched inference', () => {
  it('tiny classifier: concurrent calls form batches and each gets exactly its unbatched output', async () => {
    const runner = runnerFor([{ ...tiny, config: { ...tiny.config, maxBatchSize: 8 } }]);
    const n = 24;
    const alone: Record<string, TensorData>[] = [];
    for (let i = 0; i < n; i++) alone.push(await host.run(tiny, { x: float32Tensor([1, inputSize], input(i)) }));
    batchesSeen.length = 0;
    const batched = await Promise.all(Array.from({ length: n }, (_, i) => runner.runWithFacts(tiny, { x: float32Tensor([1, inputSize], input(i)) })));
    runner.close();

    const sizes = batchesSeen.filter((b) => b.model === tiny.name).map((b) => b.size);
    expect(sizes).toEqual([8, 8, 8]);
    expect(batched.every((b) => b.facts.batchSize === 8)).toBe(true);
    batched.forEach((b, i) => {
      const out = b.outputs['probs']!;
      expect(out.dims).toEqual([1, classes]);
      // Exactly the bytes of the unbatched run, and the JS reference to float32 precision.
      expect(Array.from(out.data as Float32Array)).toEqual(Array.from(alone[i]!['probs']!.data as Float32Array));
      const ref = tinyClassifierReference(weights, bias, input(i));
      ref.forEach((v, c) => expect(Math.abs(Number(out.data[c]) - v)).toBeLessThan(1e-6));
    });
  });

  it('tiny classifier: one bad item in a batch fails alone', async () => {
    const runner = runnerFor([{ ...tiny, config: { ...tiny.config, maxBatchSize: 4 } }]);
    batchesSeen.length = 0;
    const bad = { x: { dtype: 'float32' as const, dims: [1, inputSize], data: new Float32Array(inputSize - 1) } };
    const settled = await Promise.allSettled([0, 1, 2, 3].map((i) => runner.runWithFacts(tiny, i === 2 ? bad : { x: float32Tensor([1, inputSize], input(i)) })));
    runner.close();
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const reason = (settled[2] as PromiseRejectedResult).reason as unknown;
    expect(isProblemError(reason) && reason.code).toBe('invalid_input');
    // The three good items still ran together, in one session.run.
    expect(batchesSeen.filter((b) => b.model === tiny.name).map((b) => b.size)).toEqual([3]);
    settled.forEach((s, i) => {
      if (s.status !== 'fulfilled') return;
      expect(s.value.facts.batchSize).toBe(4);
      const ref = tinyClassifierReference(weights, bias, input(i));
      ref.forEach((v, c) => expect(Math.abs(Number(s.value.outputs['probs']!.data[c]) - v)).toBeLessThan(1e-6));
    });
  });

  it('ppocr-rec: two line widths padded into one batch read the same text as one by one', async () => {
    // The narrow line: "Hello", cut in the middle of the gap between the two words
    // (a cut through a glyph is ambiguous to read, padded or not).
    const hello = await readFile(join(repoRoot(), 'examples', 'hello.png'));
    const narrow = await sharp(hello)
      .extract({ left: 0, top: 0, width: await wordGapColumn(hello), height: (await sharp(hello).metadata()).height })
      .png()
      .toBuffer();
    const images = [hello.toString('base64'), narrow.toString('base64')];

    const alone: FeatureResult[] = [];
    for (const image of images) alone.push(await runPipeline(OCR_LINE_V1, { image }, host));
    expect((alone[0]!.output as { text: string }).text).toBe('Hello Stratum');

    // Both orders: the wide line first, then the narrow one first (each must get its own rows and time steps).
    for (const order of [images, [...images].reverse()]) {
      const expected = order === images ? alone : [...alone].reverse();
      const runner = runnerFor([rec]);
      batchesSeen.length = 0;
      const jobs = order.map(() => runner.forJob());
      const batched = await Promise.all(order.map((image, i) => runPipeline(OCR_LINE_V1, { image }, jobs[i]!)));
      runner.close();

      expect(batchesSeen.filter((b) => b.model === rec.name).map((b) => b.size)).toEqual([2]);
      expect(jobs.map((j) => j.facts().batchSize)).toEqual([2, 2]);
      const texts = batched.map((r) => (r.output as { text: string }).text);
      expect(texts).toEqual(expected.map((r) => (r.output as { text: string }).text));
      expect(texts).toEqual(order === images ? ['Hello Stratum', 'Hello'] : ['Hello', 'Hello Stratum']);
      batched.forEach((r, i) => expect(Math.abs((r.output as { confidence: number }).confidence - (expected[i]!.output as { confidence: number }).confidence)).toBeLessThan(0.02));
    }
  });

  it('ocr: a page\'s regions run through list.map batch their orientation and recognition calls, and read the same as one by one', async () => {
    const det = findShippedModel('ppocr-det')!;
    const cls = findShippedModel('ppocr-cls')!;
    await host.load(det, { executionProviders: ['cpu'], intraOpThreads: 1 });
    await host.load(cls, { executionProviders: ['cpu'], intraOpThreads: 1 });
    const truth = ['Hello Stratum', 'Pack my box with five dozen liquor jugs', 'Order 58213', { text: 'shipped today', flipped: true }];
    const page = (await renderPage({ lines: truth, font: 'DejaVu-Sans', pointSize: 28 })).toString('base64');
    const alone = await runPipeline(OCR_V1, { image: page }, host);
    // Batches that close when full (4 regions) rather than on a timer, so a busy machine that
    // spaces the regions' calls out cannot split them; detection runs alone, at once.
    const runner = runnerFor([det, cls, rec], 20_000, { [det.name]: 1, [cls.name]: 4, [rec.name]: 4 });
    batchesSeen.length = 0;
    const batched = await runPipeline(OCR_V1, { image: page }, runner.forJob());
    runner.close();
    expect((batched.output as { text: string }).text).toBe((alone.output as { text: string }).text);
    expect((batched.output as { lines: unknown[] }).lines).toHaveLength(4);
    // One detection run; the four regions' orientation and recognition calls each in one batch.
    expect(batchesSeen.map((b) => `${b.model}:${b.size}`).sort()).toEqual(['ppocr-cls:4', 'ppocr-det:1', 'ppocr-rec:4']);
  });
});

describe('per-job batch facts', () => {
  it('a job records its batch size and counts its wait for the batch as queue time', async () => {
    const runner = runnerFor([rec], 100);
    const image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
    const recorded: PredictionMetrics[] = [];
    const lifecycle = {
      start: async () => ({ input: { image } }),
      succeed: async (_scope: unknown, _id: string, s: { metrics: PredictionMetrics }) => {
        recorded.push(s.metrics);
        return true;
      },
      fail: async () => true,
    };
    const job = (i: number): FeatureJobData => ({
      predictionId: `p${i}`,
      orgId: 'o',
      apiKeyId: 'k',
      mode: 'test',
      kind: 'feature',
      feature: { name: 'ocr-line', version: '1' },
      models: [{ name: 'ppocr-rec', version: '1' }],
      priority: 1,
      enqueuedAt: Date.now(),
    });
    const run = (i: number, r: ModelRunner & { facts?: () => { batchSize: number; batchQueueMs: number } }) =>
      processInferenceJob(
        { data: job(i), attemptsMade: 0, maxAttempts: 1 },
        { lifecycle: lifecycle, runner: r, ...(r.facts ? { batchFacts: r.facts.bind(r) } : {}) },
      );
    // Two jobs together share a batch; a job alone waits the max queue delay for a companion.
    expect(await Promise.all([run(1, runner.forJob()), run(2, runner.forJob())])).toEqual(['succeeded', 'succeeded']);
    expect(await run(3, runner.forJob())).toBe('succeeded');
    runner.close();
    expect(recorded.map((m) => m.batch_size)).toEqual([2, 2, 1]);
    expect(recorded[2]!.queue_time_ms).toBeGreaterThanOrEqual(95);
    for (const m of recorded) expect(m.predict_time_ms).toBeGreaterThan(0);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProblemError, type ProblemError } from '#infra/errors';
import { findShippedModel, poolsOf, SHIPPED_MODELS, type ShippedModel } from '#model-service/model-format';
import { float32Tensor, type ModelRef } from '#model-service/tensors';
import { OnnxModelHost, providerAttempts } from './index.js';
import { tinyClassifierReference, TINY_CLASSIFIER_SPEC, TINY_MODEL } from '#tools/model-builders';

const dir = mkdtempSync(join(tmpdir(), 'stratum-models-'));
const tiny: ShippedModel = TINY_MODEL.entry(join(dir, 'tiny.onnx'));
const host = new OnnxModelHost({
  onInference: (ref, ms, batch) => inferences.push({ ref, ms, batch }),
});
const inferences: { ref: ModelRef; ms: number; batch: number }[] = [];
const logs: string[] = [];

beforeAll(async () => {
  await host.load(tiny, { executionProviders: ['cuda', 'cpu'], intraOpThreads: 1, log: (m) => logs.push(m) });
});

afterAll(async () => {
  await host.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('OnnxModelHost with the tiny classifier', () => {
  it('matches the JS reference to 1e-6 on a batch', async () => {
    const batch = 5;
    const x = Array.from({ length: batch * TINY_CLASSIFIER_SPEC.inputSize }, (_, i) => Math.sin(i * 1.7) * 2);
    const out = await host.run(tiny, { x: float32Tensor([batch, TINY_CLASSIFIER_SPEC.inputSize], x) });
    const probs = out['probs'];
    expect(probs?.dtype).toBe('float32');
    expect(probs?.dims).toEqual([batch, TINY_CLASSIFIER_SPEC.classes]);
    const ref = tinyClassifierReference(TINY_CLASSIFIER_SPEC.weights, TINY_CLASSIFIER_SPEC.bias, x);
    expect(probs?.data.length).toBe(ref.length);
    ref.forEach((v, i) => expect(Math.abs(Number(probs?.data[i]) - v)).toBeLessThan(1e-6));
    expect(inferences.at(-1)).toMatchObject({ ref: { name: 'tiny-classifier', version: '1' }, batch });
  });

  it('falls back to CPU when CUDA is asked for and says so', () => {
    const [status] = host.status();
    expect(status).toMatchObject({ name: 'tiny-classifier', version: '1', pool: 'tiny', ready: true, provider: 'cpu' });
    expect(status?.providerFallbacks.map((f) => f.provider)).toEqual(['cuda']);
    expect(logs.some((l) => l.includes('cuda') && l.includes('unavailable'))).toBe(true);
    expect(logs.some((l) => l.includes('ready on cpu'))).toBe(true);
    expect(host.isReady()).toBe(true);
  });

  it('records sha256, size, timings and the signature read from the model', () => {
    const [status] = host.status();
    expect(status?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(status?.sizeBytes).toBe(statSync(tiny.artifactPath).size);
    expect(status?.loadMs).toBeGreaterThan(0);
    expect(status?.warmupMs).toBeGreaterThanOrEqual(0);
    expect(status?.signature).toEqual({
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'probs', dtype: 'float32', shape: ['batch', 3] }],
    });
  });

  it('gives a 503 model_unavailable ProblemError for an unknown model', async () => {
    const err = await host.run({ name: 'no-such-model', version: '1' }, {}).catch((e: unknown) => e);
    expect(isProblemError(err)).toBe(true);
    expect((err as ProblemError).code).toBe('model_unavailable');
    expect((err as ProblemError).status).toBe(503);
  });

  it('rejects feeds that miss a model input with invalid_input', async () => {
    const err = await host.run(tiny, { y: float32Tensor([1, 4]) }).catch((e: unknown) => e);
    expect((err as ProblemError).code).toBe('invalid_input');
  });

  it('fails a load of a missing artifact with model_unavailable and is not ready', async () => {
    const other = new OnnxModelHost();
    const broken: ShippedModel = { ...tiny, name: 'broken', artifactPath: join(dir, 'missing.onnx') };
    const err = await other.load(broken, { executionProviders: ['cpu'], intraOpThreads: 1 }).catch((e: unknown) => e);
    expect((err as ProblemError).code).toBe('model_unavailable');
    expect(other.isReady()).toBe(false);
    expect(other.status()[0]?.error).toBeTruthy();
    await other.close();
  });
});

describe('providerAttempts', () => {
  it('tries each preferred provider with CPU behind it, then CPU alone', () => {
    expect(providerAttempts(['tensorrt', 'cuda', 'cpu'])).toEqual([['tensorrt', 'cuda', 'cpu'], ['cuda', 'cpu'], ['cpu']]);
    expect(providerAttempts(['cpu'])).toEqual([['cpu']]);
    expect(providerAttempts([])).toEqual([['cpu']]);
  });
});

describe('shipped models', () => {
  it('catalogues the three PaddleOCR models at version 1 in pool ocr, with existing artifacts', () => {
    expect(SHIPPED_MODELS.map((m) => `${m.name}@${m.version}`)).toEqual(['ppocr-rec@1', 'ppocr-cls@1', 'ppocr-det@1']);
    expect(poolsOf(SHIPPED_MODELS)).toEqual(['ocr']);
    for (const m of SHIPPED_MODELS) expect(statSync(m.artifactPath).size).toBeGreaterThan(100_000);
    const dict = findShippedModel('ppocr-rec')?.assets?.['dictionary'];
    expect(dict && statSync(dict).isFile()).toBe(true);
    expect(findShippedModel('ppocr-cls', '1')?.name).toBe('ppocr-cls');
    expect(findShippedModel('ppocr-cls', '9')).toBeUndefined();
  });

  it('loads ppocr-cls, reads its signature from the model and classifies a blank line', async () => {
    const cls = findShippedModel('ppocr-cls');
    if (!cls) throw new Error('ppocr-cls missing from the catalogue');
    const h = new OnnxModelHost();
    try {
      const status = await h.load(cls, { executionProviders: ['tensorrt', 'cuda'], intraOpThreads: 2 });
      expect(status.ready).toBe(true);
      expect(status.provider).toBe('cpu');
      expect(status.signature?.inputs).toHaveLength(1);
      expect(status.signature?.inputs[0]).toMatchObject({ name: 'x', dtype: 'float32' });
      expect(status.signature?.inputs[0]?.shape.slice(1)).toEqual([3, expect.anything(), expect.anything()]);
      expect(status.signature?.outputs[0]?.dtype).toBe('float32');
      expect(status.signature?.outputs[0]?.shape[1]).toBe(2);
      const out = await h.run(cls, { x: float32Tensor([2, 3, 48, 192]) });
      const probs = Object.values(out)[0];
      expect(probs?.dims).toEqual([2, 2]);
      expect(Number(probs?.data[0]) + Number(probs?.data[1])).toBeCloseTo(1, 5);
    } finally {
      await h.close();
    }
  });
});

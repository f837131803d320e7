import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDenseMlp, DENSE_MLP_SPEC, DENSE_MODEL, DENSE_OUTPUT_NAME, denseMlpInput, denseMlpLayers, denseMlpReference } from './index.js';
import { float32Tensor } from '#model-service/tensors';
import { OnnxModelHost } from '#model-service/runtime';
import { readOnnxSignature, type ModelEntry } from '#model-service/model-format';

const dir = mkdtempSync(join(tmpdir(), 'stratum-dense-'));
const host = new OnnxModelHost();
let dense: ModelEntry;
const inputSize = DENSE_MLP_SPEC.sizes[0]!;
const outputSize = DENSE_MLP_SPEC.sizes.at(-1)!;

beforeAll(async () => {
  dense = DENSE_MODEL.entry(join(dir, 'dense.onnx'));
  await host.load(dense, { executionProviders: ['cpu'], intraOpThreads: 1 });
}, 60_000);

afterAll(async () => {
  await host.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Largest |a - b| relative to the largest |b| (outputs are of order 1). */
function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)));
    scale = Math.max(scale, Math.abs(b[i] ?? 0));
  }
  return err / scale;
}

describe('dense MLP (weight-heavy benchmark model)', () => {
  it('is deterministic in its seed and holds ~13 MB of float32 weights', async () => {
    const sizes = DENSE_MLP_SPEC.sizes;
    const weights = sizes.slice(1).reduce((n, s, i) => n + s * (sizes[i]! + 1), 0);
    expect(weights).toBe(3_231_760);
    expect(statSync(dense.artifactPath).size).toBeGreaterThan(weights * 4);
    const small = { sizes: [3, 5, 2], seed: 7 };
    expect(Buffer.from(buildDenseMlp(small)).equals(Buffer.from(buildDenseMlp(small)))).toBe(true);
    expect(Buffer.from(buildDenseMlp(small)).equals(Buffer.from(buildDenseMlp({ ...small, seed: 8 })))).toBe(false);
    const signature = await readOnnxSignature(dense.artifactPath);
    expect(signature.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['batch', inputSize] }]);
    expect(signature.outputs).toEqual([{ name: DENSE_OUTPUT_NAME, dtype: 'float32', shape: ['batch', outputSize] }]);
    expect(dense.config).toMatchObject({ maxBatchSize: 32, maxQueueDelayMs: 2, intraOpThreads: 1 });
  });

  it('onnxruntime matches the pure-JS reference for a batch, and each row equals its batch-1 run', async () => {
    const batch = 5;
    const x = Array.from({ length: batch }, (_, i) => denseMlpInput(i)).flat();
    const out = await host.run(dense, { x: float32Tensor([batch, inputSize], x) });
    const y = out[DENSE_OUTPUT_NAME]!;
    expect(y.dims).toEqual([batch, outputSize]);
    const reference = denseMlpReference(denseMlpLayers(), x);
    expect(maxRelativeError(y.data as Float32Array, reference)).toBeLessThan(1e-5);
    // The activations do not vanish through the stack: the outputs are not all (near) zero.
    expect(Math.max(...Array.from(reference, Math.abs))).toBeGreaterThan(0.1);
    for (let i = 0; i < batch; i++) {
      const alone = await host.run(dense, { x: float32Tensor([1, inputSize], denseMlpInput(i)) });
      const row = (y.data as Float32Array).subarray(i * outputSize, (i + 1) * outputSize);
      expect(maxRelativeError(alone[DENSE_OUTPUT_NAME]!.data as Float32Array, row)).toBeLessThan(1e-5);
    }
  });

  it('refuses a spec without an output width', () => {
    expect(() => buildDenseMlp({ sizes: [4], seed: 1 })).toThrow(RangeError);
    expect(() => denseMlpReference(denseMlpLayers({ sizes: [4, 2], seed: 1 }), [1, 2, 3])).toThrow(/multiple of 4/);
  });
});

/**
 * A weight-heavy MLP built in code with onnx-proto, plus its pure-JS reference, for the
 * batching benchmark and tests: `y = W_L·relu(…relu(W_1·x + b_1)…) + b_L` with x: float32
 * [batch, inputSize] and a dynamic batch dimension (opset 13).
 *
 * Why it exists: on a CPU, batch 1 is a matrix-vector product per layer (every weight is read
 * from memory for one item: memory-bound), while batch 32 reads each weight once for 32 items
 * (matrix-matrix: compute-bound). With ~12 MB of weights (more than the caches) batching pays
 * several-fold, which the tiny classifier (negligible compute) and PaddleOCR recognition
 * (compute-bound convolutions) cannot show. Weights come from a seeded generator, so the model
 * and its outputs are exactly reproducible.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import onnxProto from 'onnx-proto';
import { float32Raw, floatValueInfo } from './onnx-build.js';
import type { ModelEntry } from '#model-service/model-format';

const { onnx } = onnxProto;

export const DENSE_INPUT_NAME = 'x';
export const DENSE_OUTPUT_NAME = 'y';

export interface DenseMlpSpec {
  /** Layer widths, input first and output last (at least two). */
  sizes: readonly number[];
  /** Seed of the weight generator. */
  seed: number;
}

/** 64 -> 1024 -> 1024 -> 1024 -> 1024 -> 16: 3.2 M float32 weights (12.9 MB). */
export const DENSE_MLP_SPEC: DenseMlpSpec = Object.freeze({ sizes: Object.freeze([64, 1024, 1024, 1024, 1024, 16]), seed: 20261127 });

/**
 * 64 -> 3072 -> 3072 -> 3072 -> 16: 19.1 M float32 weights (76 MB). The batching benchmark's
 * "realistic" small model: about a millisecond of compute per item even at batch 32 (the 1024
 * one needs about 0.1 ms, less than BullMQ's fixed cost per job), so its worker/raw ratio
 * measures the worker's overhead rather than the queue's.
 */
export const DENSE_MLP_WIDE_SPEC: DenseMlpSpec = Object.freeze({ sizes: Object.freeze([64, 3072, 3072, 3072, 16]), seed: 20261128 });

/** One dense layer: `weights` row-major [inputs][outputs], one bias per output. */
export interface DenseLayer {
  inputs: number;
  outputs: number;
  weights: Float32Array;
  bias: Float32Array;
}

function checkSpec(spec: DenseMlpSpec): void {
  if (spec.sizes.length < 2) throw new RangeError('sizes needs an input and an output width');
  if (spec.sizes.some((s) => !Number.isInteger(s) || s < 1 || s > 8192)) throw new RangeError('every width must be an integer in 1..8192');
  if (!Number.isInteger(spec.seed)) throw new RangeError('seed must be an integer');
}

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The layers of a spec: weights uniform in ±sqrt(3/inputs) (unit variance per output, so
 * activations neither vanish nor explode through the stack), biases in ±0.1. Float32, as
 * the model stores them.
 */
export function denseMlpLayers(spec: DenseMlpSpec = DENSE_MLP_SPEC): DenseLayer[] {
  checkSpec(spec);
  const next = generator(spec.seed);
  const layers: DenseLayer[] = [];
  for (let l = 1; l < spec.sizes.length; l++) {
    const inputs = spec.sizes[l - 1]!;
    const outputs = spec.sizes[l]!;
    const scale = Math.sqrt(3 / inputs);
    const weights = new Float32Array(inputs * outputs);
    for (let i = 0; i < weights.length; i++) weights[i] = (next() * 2 - 1) * scale;
    const bias = new Float32Array(outputs);
    for (let i = 0; i < outputs; i++) bias[i] = (next() * 2 - 1) * 0.1;
    layers.push({ inputs, outputs, weights, bias });
  }
  return layers;
}

/** The ONNX bytes of the MLP (MatMul + Add per layer, Relu between layers). */
export function buildDenseMlp(spec: DenseMlpSpec = DENSE_MLP_SPEC): Uint8Array {
  const layers = denseMlpLayers(spec);
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  const node: onnxProto.onnx.INodeProto[] = [];
  let current = DENSE_INPUT_NAME;
  layers.forEach((layer, l) => {
    const last = l === layers.length - 1;
    initializer.push(
      { name: `W${l}`, dims: [layer.inputs, layer.outputs], dataType: onnx.TensorProto.DataType.FLOAT, rawData: float32Raw(layer.weights) },
      { name: `B${l}`, dims: [layer.outputs], dataType: onnx.TensorProto.DataType.FLOAT, rawData: float32Raw(layer.bias) },
    );
    node.push({ opType: 'MatMul', input: [current, `W${l}`], output: [`mm${l}`], name: `matmul${l}` });
    const added = last ? DENSE_OUTPUT_NAME : `h${l}`;
    node.push({ opType: 'Add', input: [`mm${l}`, `B${l}`], output: [added], name: `add${l}` });
    if (!last) {
      node.push({ opType: 'Relu', input: [added], output: [`a${l}`], name: `relu${l}` });
      current = `a${l}`;
    }
  });
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    producerName: 'stratum',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'dense_mlp',
      initializer,
      node,
      input: [floatValueInfo(DENSE_INPUT_NAME, ['batch', spec.sizes[0]!])],
      output: [floatValueInfo(DENSE_OUTPUT_NAME, ['batch', spec.sizes.at(-1)!])],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/**
 * Pure-JS reference (float64 accumulation over the float32 weights): rows of x (flat,
 * row-major, [batch, inputSize]) -> flat y [batch, outputSize]. onnxruntime sums in float32
 * in another order, so compare with a tolerance (about 1e-4 relative is ample).
 */
export function denseMlpReference(layers: readonly DenseLayer[], x: ArrayLike<number>): Float64Array {
  const first = layers[0];
  if (!first) throw new RangeError('no layers');
  if (x.length % first.inputs !== 0) throw new RangeError(`x length ${x.length} is not a multiple of ${first.inputs}`);
  const batch = x.length / first.inputs;
  let act = Float64Array.from(x);
  layers.forEach((layer, l) => {
    const out = new Float64Array(batch * layer.outputs);
    for (let b = 0; b < batch; b++) {
      const row = out.subarray(b * layer.outputs, (b + 1) * layer.outputs);
      row.set(layer.bias);
      for (let i = 0; i < layer.inputs; i++) {
        const a = act[b * layer.inputs + i]!;
        if (a === 0) continue;
        const w = layer.weights.subarray(i * layer.outputs, (i + 1) * layer.outputs);
        for (let o = 0; o < layer.outputs; o++) row[o] = row[o]! + a * w[o]!;
      }
      if (l < layers.length - 1) for (let o = 0; o < layer.outputs; o++) row[o] = Math.max(0, row[o]!);
    }
    act = out;
  });
  return act;
}

/** A deterministic input row for item `i` (values in ±1). */
export function denseMlpInput(i: number, inputSize: number = DENSE_MLP_SPEC.sizes[0]!): number[] {
  return Array.from({ length: inputSize }, (_, k) => Math.sin(i * 1.7 + k * 0.37));
}

/**
 * Catalogue entry builder (pool `dense`): `DENSE_MODEL.entry(path)` writes the ONNX bytes to
 * `path` and returns an entry the host loads like any other. Batches up to 32 wait at most
 * 2 ms for companions (chosen by measurement, see README's Dynamic batching).
 */
export const DENSE_MODEL = Object.freeze({
  name: 'dense-mlp',
  version: '1',
  pool: 'dense',
  spec: DENSE_MLP_SPEC,
  entry(path: string, spec: DenseMlpSpec = DENSE_MLP_SPEC, config: Partial<ModelEntry['config']> = {}, name: string = DENSE_MODEL.name): ModelEntry {
    const bytes = buildDenseMlp(spec);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    return {
      name,
      version: DENSE_MODEL.version,
      pool: DENSE_MODEL.pool,
      description: `Dense MLP ${spec.sizes.join('-')} with ReLU, seeded weights, built in code; memory-bound at batch 1, for batching tests and benchmarks.`,
      artifactPath: path,
      config: { maxBatchSize: 32, maxQueueDelayMs: 2, intraOpThreads: 1, graphOptimizationLevel: 'all', enableMemArena: true, warmup: 'auto', ...config },
    };
  },
});

/**
 * A tiny softmax classifier (MatMul + Add + Softmax, dynamic batch, opset 13) built in
 * code with onnx-proto, plus its pure-JS reference. Tests and benchmarks use it so
 * that model outputs are exactly known and no artifact has to be downloaded.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { float32Raw, floatValueInfo } from './onnx-build.js';
import { ARTIFACT_FILE, CONFIG_FILE, type ModelEntry } from '#model-service/model-format';

const { onnx } = onnxProto;

export interface TinyClassifierSpec {
  inputSize: number;
  classes: number;
  /** weights[i][c]: input feature i -> class c, shape [inputSize][classes]. */
  weights: number[][];
  /** One bias per class. */
  bias: number[];
}

export const TINY_INPUT_NAME = 'x';
export const TINY_OUTPUT_NAME = 'probs';

function checkSpec(spec: TinyClassifierSpec): void {
  const { inputSize, classes, weights, bias } = spec;
  if (!Number.isInteger(inputSize) || inputSize < 1) throw new RangeError('inputSize must be a positive integer');
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError('classes must be a positive integer');
  if (weights.length !== inputSize || weights.some((row) => row.length !== classes)) {
    throw new RangeError(`weights must be [${inputSize}][${classes}]`);
  }
  if (bias.length !== classes) throw new RangeError(`bias must have ${classes} values`);
}

/** The ONNX bytes of `softmax(x · W + b)` with x: float32 [batch, inputSize]. */
export function buildTinyClassifier(spec: TinyClassifierSpec): Uint8Array {
  checkSpec(spec);
  const { inputSize, classes, weights, bias } = spec;
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    producerName: 'stratum',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny_classifier',
      initializer: [
        { name: 'W', dims: [inputSize, classes], dataType: onnx.TensorProto.DataType.FLOAT, rawData: float32Raw(weights.flat()) },
        { name: 'B', dims: [classes], dataType: onnx.TensorProto.DataType.FLOAT, rawData: float32Raw(bias) },
      ],
      node: [
        { opType: 'MatMul', input: [TINY_INPUT_NAME, 'W'], output: ['logits_mm'], name: 'matmul' },
        { opType: 'Add', input: ['logits_mm', 'B'], output: ['logits'], name: 'add' },
        {
          opType: 'Softmax',
          input: ['logits'],
          output: [TINY_OUTPUT_NAME],
          name: 'softmax',
          attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }],
        },
      ],
      input: [floatValueInfo(TINY_INPUT_NAME, ['batch', inputSize])],
      output: [floatValueInfo(TINY_OUTPUT_NAME, ['batch', classes])],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/**
 * Pure-JS reference of the tiny classifier: rows of x (flat, row-major,
 * [batch, inputSize]) -> flat probabilities [batch, classes].
 */
export function tinyClassifierReference(weights: number[][], bias: number[], x: ArrayLike<number>): Float64Array {
  const inputSize = weights.length;
  const classes = bias.length;
  if (x.length % inputSize !== 0) throw new RangeError(`x length ${x.length} is not a multiple of ${inputSize}`);
  const batch = x.length / inputSize;
  const out = new Float64Array(batch * classes);
  for (let b = 0; b < batch; b++) {
    const logits = new Float64Array(classes);
    for (let c = 0; c < classes; c++) {
      let sum = bias[c] ?? 0;
      for (let i = 0; i < inputSize; i++) sum += (x[b * inputSize + i] ?? 0) * (weights[i]?.[c] ?? 0);
      logits[c] = sum;
    }
    const max = Math.max(...logits);
    let total = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp((logits[c] ?? 0) - max);
      logits[c] = e;
      total += e;
    }
    for (let c = 0; c < classes; c++) out[b * classes + c] = (logits[c] ?? 0) / total;
  }
  return out;
}

/** Deterministic default weights: 4 inputs, 3 classes. */
export const TINY_CLASSIFIER_SPEC: TinyClassifierSpec = Object.freeze({
  inputSize: 4,
  classes: 3,
  weights: [
    [0.5, -0.25, 0.125],
    [-1, 0.75, 0.2],
    [0.3, 0.3, -0.6],
    [1.5, -0.5, 0.05],
  ],
  bias: [0.1, -0.2, 0.05],
});

/**
 * Catalogue entry builder for the tiny model (pool `tiny`): `TINY_MODEL.entry(path)`
 * writes the ONNX bytes to `path` and returns a ShippedModel the host loads like
 * any other.
 */
export const TINY_MODEL = Object.freeze({
  name: 'tiny-classifier',
  version: '1',
  pool: 'tiny',
  spec: TINY_CLASSIFIER_SPEC,
  entry(path: string, spec: TinyClassifierSpec = TINY_CLASSIFIER_SPEC, ref: { name?: string; version?: string } = {}): ModelEntry {
    const bytes = buildTinyClassifier(spec);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    return {
      name: ref.name ?? TINY_MODEL.name,
      version: ref.version ?? TINY_MODEL.version,
      pool: TINY_MODEL.pool,
      description: `Tiny softmax classifier (${spec.inputSize} inputs, ${spec.classes} classes) built in code; for tests and benchmarks.`,
      artifactPath: path,
      config: { maxBatchSize: 64, maxQueueDelayMs: 2, intraOpThreads: 1, graphOptimizationLevel: 'all', enableMemArena: true, warmup: 'auto' },
    };
  },
});

export interface TinyRepositoryModel {
  name?: string;
  versions?: string[];
  spec?: TinyClassifierSpec;
  /** `<name>/config.json` (pool defaults to "tiny"). */
  config?: Record<string, unknown>;
  /** Per-version `<name>/<version>/config.json`. */
  versionConfig?: Record<string, Record<string, unknown>>;
}

/**
 * Writes tiny classifiers as a model repository folder (`<root>/<name>/config.json`,
 * `<root>/<name>/<version>/model.onnx`), for tests and benchmarks that go through the
 * real MODEL_REPOSITORY path. Returns the root.
 */
export function writeTinyRepository(root: string, models: TinyRepositoryModel[] = [{}]): string {
  for (const m of models) {
    const name = m.name ?? TINY_MODEL.name;
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, CONFIG_FILE), JSON.stringify({ pool: TINY_MODEL.pool, max_batch_size: 64, max_queue_delay_ms: 2, intra_op_threads: 1, ...m.config }, null, 2));
    for (const version of m.versions ?? [TINY_MODEL.version]) {
      mkdirSync(join(dir, version), { recursive: true });
      writeFileSync(join(dir, version, ARTIFACT_FILE), buildTinyClassifier(m.spec ?? TINY_CLASSIFIER_SPEC));
      const vc = m.versionConfig?.[version];
      if (vc) writeFileSync(join(dir, version, CONFIG_FILE), JSON.stringify(vc, null, 2));
    }
  }
  return root;
}

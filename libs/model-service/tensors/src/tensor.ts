/**
 * Framework- and runtime-neutral tensor types. Nothing outside the Model Service
 * imports onnxruntime: features and workers exchange `TensorData`.
 */

export type TensorDType = 'float32' | 'int64' | 'int32' | 'uint8' | 'bool';

export interface TensorData {
  dtype: TensorDType;
  dims: number[];
  /** Row-major data; `bool` tensors use a Uint8Array of 0/1. */
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

/** A model by name and version (the pair is what a prediction records as "served by"). */
export interface ModelRef {
  name: string;
  version: string;
}

/** One input or output of a model, as read from the model file. */
export interface TensorSpec {
  name: string;
  dtype: string;
  /** A number for a fixed dimension, a string for a named dynamic one, null when unknown. */
  shape: (number | string | null)[];
}

export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** What the Feature Engine calls to run a model (in-process host, or a queue client). */
export interface ModelRunner {
  run(model: ModelRef, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
}

export const TENSOR_DTYPES: readonly TensorDType[] = ['float32', 'int64', 'int32', 'uint8', 'bool'];

/** Number of elements a tensor of these dims holds. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

/** A float32 tensor of the given dims, zero-filled unless data is given. */
export function float32Tensor(dims: number[], data?: Float32Array | number[]): TensorData {
  const size = elementCount(dims);
  const arr = data === undefined ? new Float32Array(size) : data instanceof Float32Array ? data : Float32Array.from(data);
  if (arr.length !== size) throw new RangeError(`float32 tensor of dims [${dims.join(',')}] needs ${size} values, got ${arr.length}`);
  return { dtype: 'float32', dims, data: arr };
}

export function modelKey(ref: ModelRef): string {
  return `${ref.name}@${ref.version}`;
}

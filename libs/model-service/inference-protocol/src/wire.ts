/**
 * Tensors as plain JSON (job data, Prediction.input/output): flat row-major numbers,
 * int64 as safe integers, bool as 0/1. Validated tensors only: the gateway refused
 * anything else (NaN, Inf, unsafe integers) before they got here.
 */
import { elementCount, TENSOR_DTYPES, type TensorData, type TensorDType } from '#model-service/tensors';

export interface WireTensor {
  dtype: TensorDType;
  dims: number[];
  data: number[];
}

export function toWire(feeds: Readonly<Record<string, TensorData>>): Record<string, WireTensor> {
  const out: Record<string, WireTensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const data = t.data instanceof BigInt64Array ? Array.from(t.data, (v) => Number(v)) : Array.from(t.data);
    out[name] = { dtype: t.dtype, dims: [...t.dims], data };
  }
  return out;
}

function typed(dtype: TensorDType, data: readonly number[]): TensorData['data'] {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(data);
    case 'int64':
      return BigInt64Array.from(data, (v) => BigInt(v));
    case 'int32':
      return Int32Array.from(data);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(data);
  }
}

/** Back to TensorData; throws on a structurally broken tensor (a bug, not user input). */
export function fromWire(wire: Readonly<Record<string, WireTensor>>): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [name, t] of Object.entries(wire)) {
    if (!(TENSOR_DTYPES as readonly string[]).includes(t.dtype)) throw new Error(`tensor "${name}": unknown dtype ${String(t.dtype)}`);
    if (!Array.isArray(t.data) || t.data.length !== elementCount(t.dims)) throw new Error(`tensor "${name}": ${t.data.length} values for dims [${t.dims.join(',')}]`);
    out[name] = { dtype: t.dtype, dims: [...t.dims], data: typed(t.dtype, t.data) };
  }
  return out;
}

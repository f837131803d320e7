/**
 * The Open Inference Protocol (KServe v2) over JSON: datatypes, request validation
 * against a model's signature, response and metadata encoding. Pure functions; errors
 * are ProblemErrors that also carry the protocol's `error` member.
 */
import { ProblemError, type ProblemCode } from '#infra/errors';
import { elementCount, type ModelSignature, type TensorData, type TensorDType, type TensorSpec } from '#model-service/tensors';

/** v2 datatype names for the tensor types the runtime can feed. */
export const V2_DATATYPES: Readonly<Record<TensorDType, string>> = {
  float32: 'FP32',
  int64: 'INT64',
  int32: 'INT32',
  uint8: 'UINT8',
  bool: 'BOOL',
};

const FROM_V2: Readonly<Record<string, TensorDType>> = Object.fromEntries(Object.entries(V2_DATATYPES).map(([k, v]) => [v, k as TensorDType]));

/** Signature dtype (as read from the model: "float32", "tensor(float)", "int64"…) → runtime dtype, or null. */
export function specDType(spec: Pick<TensorSpec, 'dtype'>): TensorDType | null {
  const d = spec.dtype.replace(/^tensor\((.*)\)$/, '$1').toLowerCase();
  const aliases: Record<string, TensorDType> = { float: 'float32', float32: 'float32', int64: 'int64', int32: 'int32', uint8: 'uint8', bool: 'bool', boolean: 'bool' };
  return aliases[d] ?? null;
}

/** v2 names of ONNX element types the runtime cannot feed (still shown in metadata). */
const OTHER_V2_NAMES: Readonly<Record<string, string>> = {
  double: 'FP64',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  int16: 'INT16',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  string: 'BYTES',
};

/** The v2 datatype of a signature entry. */
export function v2Datatype(spec: Pick<TensorSpec, 'dtype'>): string {
  const d = specDType(spec);
  if (d) return V2_DATATYPES[d];
  const raw = spec.dtype.replace(/^tensor\((.*)\)$/, '$1').toLowerCase();
  return OTHER_V2_NAMES[raw] ?? raw.toUpperCase();
}

/** v2 shapes use -1 for a variable dimension. */
export function v2Shape(spec: Pick<TensorSpec, 'shape'>): number[] {
  return spec.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
}

export interface V2MetadataTensor {
  name: string;
  datatype: string;
  shape: number[];
}

export interface V2ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: V2MetadataTensor[];
  outputs: V2MetadataTensor[];
}

export function modelMetadata(name: string, versions: readonly string[], signature: ModelSignature): V2ModelMetadata {
  const tensor = (s: TensorSpec): V2MetadataTensor => ({ name: s.name, datatype: v2Datatype(s), shape: v2Shape(s) });
  return { name, versions: [...versions], platform: 'onnxruntime_onnx', inputs: signature.inputs.map(tensor), outputs: signature.outputs.map(tensor) };
}

export interface InferLimits {
  /** Most elements over all input tensors of one request. */
  maxElements: number;
}

export interface ParsedInferRequest {
  id: string | null;
  feeds: Record<string, TensorData>;
  /** Outputs the caller asked for (all when null). */
  outputs: string[] | null;
}

export interface V2ResponseTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: (number | boolean)[];
}

export interface V2InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: V2ResponseTensor[];
}

/** A v2 error: problem+json whose body also carries the protocol's `error` string. */
export function v2Error(code: ProblemCode, message: string, errors?: { path: string; message: string }[]): ProblemError {
  return new ProblemError(code, message, { extensions: { error: message, ...(errors ? { errors } : {}) } });
}

const FLOAT32_MAX = 3.4028234663852886e38;
const REQUEST_FIELDS = new Set(['id', 'parameters', 'inputs', 'outputs']);
const INPUT_FIELDS = new Set(['name', 'shape', 'datatype', 'parameters', 'data']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Flattens nested arrays (row-major), refusing deeper nesting than the shape allows. */
function flatten(data: unknown, depth: number, out: unknown[]): boolean {
  if (!Array.isArray(data)) return false;
  for (const v of data) {
    if (Array.isArray(v)) {
      if (depth <= 1 || !flatten(v, depth - 1, out)) return false;
    } else out.push(v);
  }
  return true;
}

function convert(values: readonly unknown[], dtype: TensorDType, path: string): TensorData['data'] {
  const bad = (i: number, what: string) => v2Error('invalid_tensor', `${path}.data[${i}] ${what}`);
  switch (dtype) {
    case 'float32': {
      const arr = new Float32Array(values.length);
      values.forEach((v, i) => {
        if (typeof v !== 'number') throw bad(i, 'is not a number');
        if (!Number.isFinite(v) || Math.abs(v) > FLOAT32_MAX) throw bad(i, 'is not a finite FP32 value (NaN and Inf are refused)');
        arr[i] = v;
      });
      return arr;
    }
    case 'int64': {
      const arr = new BigInt64Array(values.length);
      values.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(i, 'is not an integer in the safe JSON range (±2^53)');
        arr[i] = BigInt(v);
      });
      return arr;
    }
    case 'int32': {
      const arr = new Int32Array(values.length);
      values.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw bad(i, 'is not an INT32');
        arr[i] = v;
      });
      return arr;
    }
    case 'uint8':
    case 'bool': {
      const arr = new Uint8Array(values.length);
      values.forEach((v, i) => {
        if (dtype === 'bool') {
          if (typeof v !== 'boolean') throw bad(i, 'is not a boolean');
          arr[i] = v ? 1 : 0;
        } else {
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw bad(i, 'is not a UINT8');
          arr[i] = v;
        }
      });
      return arr;
    }
  }
}

/**
 * Validates a v2 infer request body against the model's signature and turns it into
 * feeds. Everything a worker would choke on is refused here (422 invalid_tensor,
 * 413 payload_too_large past the element limit).
 */
export function parseInferRequest(body: unknown, signature: ModelSignature, limits: InferLimits): ParsedInferRequest {
  if (!isObject(body)) throw v2Error('bad_request', 'The request body must be a JSON object with an "inputs" array.');
  const unknown = Object.keys(body).filter((k) => !REQUEST_FIELDS.has(k));
  if (unknown.length) throw v2Error('invalid_tensor', `Unknown request field(s): ${unknown.join(', ')}.`);
  if (body.id !== undefined && (typeof body.id !== 'string' || body.id.length > 256)) throw v2Error('invalid_tensor', '"id" must be a string of at most 256 characters.');
  if (body.parameters !== undefined && !isObject(body.parameters)) throw v2Error('invalid_tensor', '"parameters" must be an object.');
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw v2Error('invalid_tensor', '"inputs" must be a non-empty array.');

  const specs = new Map(signature.inputs.map((s) => [s.name, s]));
  const feeds: Record<string, TensorData> = {};
  let total = 0;
  body.inputs.forEach((raw: unknown, i) => {
    const path = `inputs[${i}]`;
    if (!isObject(raw)) throw v2Error('invalid_tensor', `${path} must be an object.`);
    const extra = Object.keys(raw).filter((k) => !INPUT_FIELDS.has(k));
    if (extra.length) throw v2Error('invalid_tensor', `${path} has unknown field(s): ${extra.join(', ')}.`);
    const { name, shape, datatype, data } = raw;
    if (typeof name !== 'string') throw v2Error('invalid_tensor', `${path}.name must be a string.`);
    const spec = specs.get(name);
    if (!spec) throw v2Error('invalid_tensor', `${path}: the model has no input "${name}" (inputs: ${[...specs.keys()].join(', ')}).`);
    if (feeds[name]) throw v2Error('invalid_tensor', `${path}: input "${name}" is given twice.`);
    const dtype = specDType(spec);
    if (!dtype) throw v2Error('invalid_tensor', `Input "${name}" has type ${spec.dtype}, which this server cannot feed.`);
    if (datatype !== V2_DATATYPES[dtype]) throw v2Error('invalid_tensor', `${path}: input "${name}" has datatype ${V2_DATATYPES[dtype]}, got ${JSON.stringify(datatype)}.`);
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
      throw v2Error('invalid_tensor', `${path}.shape must be an array of non-negative integers.`);
    }
    const dims = shape as number[];
    if (dims.length !== spec.shape.length) throw v2Error('invalid_tensor', `${path}: input "${name}" has rank ${spec.shape.length} (shape ${JSON.stringify(v2Shape(spec))}), got shape ${JSON.stringify(dims)}.`);
    dims.forEach((d, axis) => {
      const want = spec.shape[axis];
      if (typeof want === 'number' && want >= 0 && want !== d) {
        throw v2Error('invalid_tensor', `${path}: input "${name}" needs ${want} on axis ${axis} (shape ${JSON.stringify(v2Shape(spec))}), got ${d}.`);
      }
      if (d === 0) throw v2Error('invalid_tensor', `${path}: axis ${axis} of "${name}" is empty.`);
    });
    const count = elementCount(dims);
    total += count;
    if (!Number.isSafeInteger(total) || total > limits.maxElements) {
      throw new ProblemError('payload_too_large', `The request's tensors hold more than ${limits.maxElements} elements.`, {
        extensions: { error: `The request's tensors hold more than ${limits.maxElements} elements.` },
      });
    }
    const flat: unknown[] = [];
    if (!flatten(data, dims.length, flat)) throw v2Error('invalid_tensor', `${path}.data must be an array (flat, or nested no deeper than the shape).`);
    if (flat.length !== count) throw v2Error('invalid_tensor', `${path}: shape ${JSON.stringify(dims)} holds ${count} elements, data has ${flat.length}.`);
    feeds[name] = { dtype, dims: [...dims], data: convert(flat, dtype, path) };
  });
  const missing = signature.inputs.filter((s) => !feeds[s.name]).map((s) => s.name);
  if (missing.length) throw v2Error('invalid_tensor', `Missing input(s): ${missing.join(', ')}.`);

  let outputs: string[] | null = null;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw v2Error('invalid_tensor', '"outputs" must be an array.');
    const known = new Set(signature.outputs.map((s) => s.name));
    outputs = body.outputs.map((o: unknown, i) => {
      if (!isObject(o) || typeof o.name !== 'string') throw v2Error('invalid_tensor', `outputs[${i}] must be an object with a "name".`);
      if (!known.has(o.name)) throw v2Error('invalid_tensor', `outputs[${i}]: the model has no output "${o.name}" (outputs: ${[...known].join(', ')}).`);
      return o.name;
    });
  }
  return { id: typeof body.id === 'string' ? body.id : null, feeds, outputs };
}

/** Encodes outputs as v2 response tensors (flat row-major data). */
export function encodeOutputs(outputs: Record<string, TensorData>, only: readonly string[] | null): V2ResponseTensor[] {
  const names = only ?? Object.keys(outputs);
  return names.map((name) => {
    const t = outputs[name];
    if (!t) throw new Error(`model produced no output "${name}"`);
    const data: (number | boolean)[] =
      t.dtype === 'bool' ? Array.from(t.data as Uint8Array, (v) => v !== 0) : t.data instanceof BigInt64Array ? Array.from(t.data, (v) => Number(v)) : Array.from(t.data as Float32Array);
    return { name, datatype: V2_DATATYPES[t.dtype], shape: [...t.dims], data };
  });
}

/** Turns a datatype name of the protocol into the runtime's, or null. */
export function fromV2Datatype(datatype: string): TensorDType | null {
  return FROM_V2[datatype] ?? null;
}

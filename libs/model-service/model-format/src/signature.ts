/**
 * What the registry needs from an artifact without creating a session: its sha256 and
 * size (streamed) and its input/output signature read from the ONNX graph (onnx-proto),
 * with the dtype names onnxruntime uses, so it equals what a session reports.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { ModelSignature, TensorSpec } from '#model-service/tensors';

const { onnx } = onnxProto;

/** ONNX TensorProto.DataType -> onnxruntime's type names. */
const DTYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};

export interface FileDigest {
  sha256: string;
  sizeBytes: number;
}

/** sha256 (hex) and byte size of a file, streamed (never holds the file in memory). */
export async function fileDigest(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(path)) {
    const buf = chunk as Buffer;
    hash.update(buf);
    sizeBytes += buf.length;
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

function dimOf(d: onnxProto.onnx.TensorShapeProto.IDimension): number | string | null {
  if (d.dimParam) return d.dimParam;
  if (d.dimValue !== null && d.dimValue !== undefined) {
    const n = Number(d.dimValue);
    return n >= 0 ? n : null;
  }
  return null;
}

function specOf(v: onnxProto.onnx.IValueInfoProto): TensorSpec {
  const name = v.name ?? '';
  const t = v.type?.tensorType;
  if (!t) return { name, dtype: 'non-tensor', shape: [] };
  return { name, dtype: DTYPES[t.elemType ?? 0] ?? 'unknown', shape: (t.shape?.dim ?? []).map(dimOf) };
}

/** The signature of an ONNX model's bytes: graph inputs (initializers excluded) and outputs. */
export function signatureFromOnnx(bytes: Uint8Array): ModelSignature {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new Error('the ONNX model has no graph');
  const initializers = new Set((graph.initializer ?? []).map((i) => i.name));
  return {
    inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name)).map(specOf),
    outputs: (graph.output ?? []).map(specOf),
  };
}

/** Reads the signature of the ONNX file at `path`. */
export async function readOnnxSignature(path: string): Promise<ModelSignature> {
  return signatureFromOnnx(await readFile(path));
}

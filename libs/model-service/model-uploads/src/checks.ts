/**
 * Structural checks of an ONNX model's bytes, before any session is created: it parses
 * as a ModelProto, has a graph with tensor inputs and outputs of types the runtime can
 * feed, and no absurd shapes (declared or in its weights). Pure; used by the validator.
 */
import onnxProto from 'onnx-proto';
import type { RefusalReason } from './refusal.js';

const { onnx } = onnxProto;

/** Largest fixed dimension and element count we accept in a signature or a weight. */
export const MAX_DIM = 1 << 24;
export const MAX_ELEMENTS = 1 << 28;
const FEEDABLE = new Set([1, 2, 6, 7, 9]); // float, uint8, int32, int64, bool

export type CheckResult = { ok: true } | { ok: false; reason: RefusalReason; message: string };

function dimsOf(type: onnxProto.onnx.ITypeProto | null | undefined): (number | null)[] {
  return (type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue !== null && d.dimValue !== undefined ? Number(d.dimValue) : null));
}

function absurd(dims: readonly (number | null)[]): string | null {
  let product = 1;
  for (const d of dims) {
    if (d === null) continue;
    if (!Number.isSafeInteger(d) || d < 0 || d > MAX_DIM) return `dimension ${d}`;
    product *= d;
    if (product > MAX_ELEMENTS) return `${dims.join('x')} elements`;
  }
  return null;
}

type Tensor = onnxProto.onnx.ITensorProto;
type Graph = onnxProto.onnx.IGraphProto;
type Node = onnxProto.onnx.INodeProto;

function tensorsOfNode(node: Node): { tensors: Tensor[]; graphs: Graph[] } {
  const tensors: Tensor[] = [];
  const graphs: Graph[] = [];
  for (const a of node.attribute ?? []) {
    if (a.t) tensors.push(a.t);
    tensors.push(...(a.tensors ?? []));
    for (const sp of [a.sparseTensor, ...(a.sparseTensors ?? [])]) if (sp) tensors.push(...[sp.values, sp.indices].filter((t): t is Tensor => !!t));
    if (a.g) graphs.push(a.g);
    graphs.push(...(a.graphs ?? []));
  }
  return { tensors, graphs };
}

/**
 * The first tensor anywhere in the model (initializers, sparse initializers, constant
 * attributes, subgraphs of Loop/If/Scan, functions) stored outside the file
 * (`data_location = EXTERNAL` or any `external_data` entry): onnxruntime would read whatever
 * path it names. Null when every tensor is inside the file.
 */
export function externalTensor(model: onnxProto.onnx.IModelProto): { name: string; location: string } | null {
  const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;
  const found = (t: Tensor) => t.dataLocation === EXTERNAL || (t.externalData ?? []).length > 0;
  const where = (t: Tensor) => ({ name: t.name ?? '(unnamed)', location: (t.externalData ?? []).find((e) => e.key === 'location')?.value ?? '(unnamed file)' });
  const graphs: Graph[] = model.graph ? [model.graph] : [];
  const nodes: Node[] = (model.functions ?? []).flatMap((f) => f.node ?? []);
  // Iterative walk: a hostile file can nest subgraphs deeply.
  while (graphs.length > 0 || nodes.length > 0) {
    const g = graphs.pop();
    if (g) {
      const direct = [...(g.initializer ?? []), ...(g.sparseInitializer ?? []).flatMap((sp) => [sp.values, sp.indices].filter((t): t is Tensor => !!t))];
      const hit = direct.find(found);
      if (hit) return where(hit);
      nodes.push(...(g.node ?? []));
      continue;
    }
    const { tensors, graphs: sub } = tensorsOfNode(nodes.pop()!);
    const hit = tensors.find(found);
    if (hit) return where(hit);
    graphs.push(...sub);
  }
  return null;
}

export function checkOnnxBytes(bytes: Uint8Array): CheckResult {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    return { ok: false, reason: 'malformed', message: `The file does not parse as an ONNX model (truncated or corrupt): ${e instanceof Error ? e.message : String(e)}` };
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0) return { ok: false, reason: 'no_graph', message: 'The ONNX model has no graph (or no nodes).' };
  const initializers = new Set((graph.initializer ?? []).map((i) => i.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  if (inputs.length === 0 || (graph.output ?? []).length === 0) return { ok: false, reason: 'no_graph', message: 'The model must have at least one input and one output.' };
  for (const v of [...inputs, ...(graph.output ?? [])]) {
    const t = v.type?.tensorType;
    if (!t) return { ok: false, reason: 'unsupported_type', message: `"${v.name}" is not a tensor.` };
    if (!FEEDABLE.has(t.elemType ?? 0)) return { ok: false, reason: 'unsupported_type', message: `"${v.name}" has element type ${t.elemType}; supported: float32, uint8, int32, int64, bool.` };
    const bad = absurd(dimsOf(v.type));
    if (bad) return { ok: false, reason: 'absurd_shape', message: `"${v.name}" declares an absurd shape (${bad}).` };
  }
  for (const init of graph.initializer ?? []) {
    const bad = absurd((init.dims ?? []).map((d) => Number(d)));
    if (bad) return { ok: false, reason: 'absurd_shape', message: `Weight "${init.name}" declares an absurd shape (${bad}).` };
  }
  const external = externalTensor(model);
  if (external) {
    return {
      ok: false,
      reason: 'external_data',
      message: `Tensor "${external.name}" is stored in an external data file (${JSON.stringify(external.location).slice(0, 120)}); upload a single self-contained .onnx file (weights inside the model).`,
    };
  }
  return { ok: true };
}

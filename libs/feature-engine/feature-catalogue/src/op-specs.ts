/**
 * The op specs: what the graph checker, the catalogue and pool routing need of each op (its
 * inputs, its param checks, the models it calls). Their implementations (image decoding, model
 * runs, CTC) live in #feature-engine/features, so this lib loads neither sharp nor a runtime.
 */
import type { ModelRef } from '#model-service/tensors';
import { findShippedModel } from '#model-service/model-format';
import { checkGraph } from './graph.js';
import type { FeatureNode, OpSpec, OpSpecs, PortType, SubGraph } from './types.js';

// ---- param helpers (modelParam and dictionaryAssetPath serve the implementations too) ----

function str(params: Record<string, unknown>, key: string): string | undefined {
  const v = params[key];
  return typeof v === 'string' ? v : undefined;
}

function positiveInt(params: Record<string, unknown>, key: string, problems: string[], required: boolean): void {
  const v = params[key];
  if (v === undefined && !required) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) problems.push(`param ${key} must be a positive integer`);
}

export function modelParam(params: Record<string, unknown>): ModelRef | null {
  const name = str(params, 'model');
  const version = str(params, 'version');
  return name && version ? { name, version } : null;
}

interface DictionaryParam {
  model: string;
  version: string;
  asset: string;
}

function dictionaryParam(params: Record<string, unknown>): DictionaryParam | null {
  const d = params['dictionary'] as Partial<DictionaryParam> | undefined;
  if (!d || typeof d.model !== 'string' || typeof d.version !== 'string' || typeof d.asset !== 'string') return null;
  return { model: d.model, version: d.version, asset: d.asset };
}

function dictionaryPath(d: DictionaryParam): string | undefined {
  return findShippedModel(d.model, d.version)?.assets?.[d.asset];
}

/** The file named by a node's `dictionary` param ({ model, version, asset } of the shipped catalogue), if any. */
export function dictionaryAssetPath(params: Record<string, unknown>): string | undefined {
  const d = dictionaryParam(params);
  return d ? dictionaryPath(d) : undefined;
}

/** A tensor type from a model's TensorSpec shape (named or unknown dimensions are free). */
export function tensorOfSpec(spec: { dtype: string; shape: (number | string | null)[] }): PortType {
  return { kind: 'tensor', dtype: spec.dtype, dims: spec.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null)) };
}

const STRING: PortType = { kind: 'json', schema: { type: 'string' } };
const IMAGE: PortType = { kind: 'image' };

// ---- the ops --------------------------------------------------------------------

const imageDecode: OpSpec = {
  description: 'Base64 PNG/JPEG/WebP (data: URL accepted) -> RGB pixels. Refuses non-images, images over maxPixels (checked from the header, before decoding) and images with a side under minSide (1).',
  inputs: ['image'],
  checkParams(params) {
    const problems: string[] = [];
    positiveInt(params, 'maxPixels', problems, false);
    positiveInt(params, 'minSide', problems, false);
    return problems;
  },
  types: () => ({ inputs: { image: STRING }, output: IMAGE }),
};

function unitNumber(params: Record<string, unknown>, key: string, problems: string[], min = 0, max = 1): void {
  const v = params[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) problems.push(`param ${key} must be a number from ${min} to ${max}`);
}

const isChannelValue = (v: unknown): boolean => typeof v === 'number' || (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number'));

const imageToTensorOp: OpSpec = {
  description:
    'RGB image -> normalised NCHW float32 [1,3,H,W] tensor. Line mode (height): fixed height, width by aspect ratio (maxWidth, widthMultiple) or fixedWidth with right padding. ' +
    'Page mode (maxSide): longest side limited to maxSide, both sides rounded to sizeMultiple (PaddleOCR detection preprocessing).',
  inputs: ['image'],
  checkParams(params) {
    const problems: string[] = [];
    const page = params['maxSide'] !== undefined;
    if (page) {
      positiveInt(params, 'maxSide', problems, true);
      positiveInt(params, 'sizeMultiple', problems, false);
      for (const k of ['height', 'maxWidth', 'fixedWidth', 'widthMultiple']) if (params[k] !== undefined) problems.push(`param ${k} is for line mode and cannot be combined with maxSide`);
    } else {
      positiveInt(params, 'height', problems, true);
      positiveInt(params, 'maxWidth', problems, params['fixedWidth'] === undefined);
      positiveInt(params, 'widthMultiple', problems, false);
      positiveInt(params, 'fixedWidth', problems, false);
      if (params['sizeMultiple'] !== undefined) problems.push('param sizeMultiple is for page mode (maxSide)');
      const overflow = params['overflow'];
      if (overflow !== undefined && overflow !== 'squeeze' && overflow !== 'crop') problems.push('param overflow must be "squeeze" or "crop"');
      if (overflow !== undefined && params['fixedWidth'] === undefined) problems.push('param overflow needs fixedWidth');
    }
    const order = params['channelOrder'];
    if (order !== undefined && order !== 'rgb' && order !== 'bgr') problems.push('param channelOrder must be "rgb" or "bgr"');
    for (const k of ['mean', 'std']) if (params[k] !== undefined && !isChannelValue(params[k])) problems.push(`param ${k} must be a number or an array of 3 numbers`);
    const std = params['std'];
    if (std === 0 || (Array.isArray(std) && std.includes(0))) problems.push('param std must not be 0');
    return problems;
  },
  types: (params) => ({
    inputs: { image: IMAGE },
    output: { kind: 'tensor', dtype: 'float32', dims: [1, 3, typeof params['height'] === 'number' ? params['height'] : null, typeof params['fixedWidth'] === 'number' ? params['fixedWidth'] : null] },
  }),
};

const detectBoxes: OpSpec = {
  description:
    'DB text detection postprocess: a [1,1,H,W] text probability map and the page image -> text boxes [{ box: 4 [x,y] points (tl,tr,br,bl) in page pixels, score }] in reading order. ' +
    'Params: threshold (binarisation, 0.3), boxThreshold (mean probability inside a box, 0.6), minSize (shortest box side in map pixels, 3), unclipRatio (1.5), maxRegions (more is a 422, 300).',
  inputs: ['map', 'image'],
  checkParams(params) {
    const problems: string[] = [];
    unitNumber(params, 'threshold', problems);
    unitNumber(params, 'boxThreshold', problems);
    unitNumber(params, 'unclipRatio', problems, 0, 10);
    positiveInt(params, 'minSize', problems, false);
    positiveInt(params, 'maxRegions', problems, false);
    return problems;
  },
};

const cropRegions: OpSpec = {
  description:
    'Cuts each box (4 points tl,tr,br,bl, possibly rotated) out of the image with a perspective warp into an upright axis-aligned image (bilinear); ' +
    'a crop at least verticalRatio (1.5) times taller than wide is turned 90° (vertical text).',
  inputs: ['image', 'boxes'],
  checkParams(params) {
    const problems: string[] = [];
    if (params['verticalRatio'] !== undefined && (typeof params['verticalRatio'] !== 'number' || params['verticalRatio'] <= 0)) problems.push('param verticalRatio must be a positive number');
    return problems;
  },
};

const imageRotate: OpSpec = {
  description: 'Rotates an image clockwise by the angle input (0, 90, 180 or 270 degrees; e.g. the orientation classifier\'s label).',
  inputs: ['image', 'angle'],
};

const classifyTopK: OpSpec = {
  description: 'Top-k classes of a [1,C] score tensor -> [{ label, score }] best first (params.labels, params.k = 1, params.softmax: apply a softmax to logits first).',
  inputs: ['probs'],
  checkParams(params) {
    const problems: string[] = [];
    const labels = params['labels'];
    if (!Array.isArray(labels) || labels.length === 0) problems.push('param labels must be a non-empty array');
    positiveInt(params, 'k', problems, false);
    if (params['softmax'] !== undefined && typeof params['softmax'] !== 'boolean') problems.push('param softmax must be a boolean');
    return problems;
  },
};

const textJoin: OpSpec = {
  description: 'Joins the strings of a list (or the params.field of each object in it) with params.separator ("\\n"); empty strings are skipped.',
  inputs: ['items'],
  checkParams(params) {
    const problems: string[] = [];
    if (params['separator'] !== undefined && typeof params['separator'] !== 'string') problems.push('param separator must be a string');
    if (params['field'] !== undefined && typeof params['field'] !== 'string') problems.push('param field must be a string');
    return problems;
  },
};

const ocrLines: OpSpec = {
  description:
    'Joins text boxes with what was read in each (same order) -> { lines: [{ text, confidence, box, angle }], text } in reading order; ' +
    'lines read as empty or below params.minConfidence (0) are dropped; text is the lines joined with "\\n".',
  inputs: ['boxes', 'reads'],
  checkParams(params) {
    const problems: string[] = [];
    unitNumber(params, 'minConfidence', problems);
    return problems;
  },
};

const objectBuild: OpSpec = {
  description: 'An object of its inputs, by input name (e.g. { text: "read.text", angle: "orientation.angle" }).',
  inputs: 'any',
};

/** The sub-graph of a list.map node, if its param is shaped like one. */
export function subGraphParam(params: Record<string, unknown>): SubGraph | null {
  const g = params['graph'] as Partial<SubGraph> | undefined;
  if (!g || typeof g !== 'object' || !Array.isArray(g.nodes) || typeof g.output !== 'string') return null;
  const nodesOk = g.nodes.every((n: Partial<FeatureNode>) => n && typeof n.id === 'string' && typeof n.op === 'string' && typeof n.inputs === 'object' && n.inputs !== null);
  return nodesOk ? { nodes: g.nodes, output: g.output } : null;
}

const listMap: OpSpec = {
  description:
    'Runs params.graph (a sub-graph whose nodes read $item) on every item of the items list, concurrently (at most params.concurrency, 16, at a time) so that ' +
    'its model calls batch together in the Model Service; -> the list of the sub-graph outputs in item order. More than params.maxItems (300) items is a 422.',
  inputs: ['items'],
  checkParams(params, ops) {
    const problems: string[] = [];
    positiveInt(params, 'concurrency', problems, false);
    positiveInt(params, 'maxItems', problems, false);
    const graph = subGraphParam(params);
    if (!graph) return [...problems, 'param graph must be { nodes: [{ id, op, params?, inputs }], output }'];
    for (const p of checkGraph(graph.nodes, graph.output, { inputFields: null, item: true }, ops).problems) problems.push(`graph: ${p}`);
    return problems;
  },
  models(params, ops) {
    const graph = subGraphParam(params);
    const refs: ModelRef[] = [];
    for (const node of graph?.nodes ?? []) refs.push(...(ops.get(node.op)?.models?.(node.params ?? {}, ops) ?? []));
    return refs;
  },
};

const modelRun: OpSpec = {
  description: 'Runs a model (params.model, params.version) on the node inputs (named after the model inputs); returns params.output or the only output.',
  inputs: 'any',
  checkParams(params) {
    const ref = modelParam(params);
    if (!ref) return ['params model and version must be strings'];
    if (params['output'] !== undefined && typeof params['output'] !== 'string') return ['param output must be a string'];
    return [];
  },
  models(params) {
    const ref = modelParam(params);
    return ref ? [ref] : [];
  },
  types(params, ctx) {
    const ref = modelParam(params);
    const sig = ref ? ctx.signature(ref) : undefined;
    if (!sig) return { inputs: 'any', output: { kind: 'tensor' } };
    const wanted = typeof params['output'] === 'string' ? params['output'] : undefined;
    const out = wanted === undefined ? (sig.outputs.length === 1 ? sig.outputs[0] : undefined) : sig.outputs.find((o) => o.name === wanted);
    if (!out) throw new Error(wanted === undefined ? `model has several outputs (${sig.outputs.map((o) => o.name).join(', ')}): name one in param output` : `model has no output "${wanted}" (it has ${sig.outputs.map((o) => o.name).join(', ')})`);
    return { inputs: Object.fromEntries(sig.inputs.map((i) => [i.name, tensorOfSpec(i)])), output: tensorOfSpec(out) };
  },
};

const ctcGreedy: OpSpec = {
  description: 'Greedy CTC decoding of [1,T,C] probabilities with a model dictionary asset (blank 0, chars from 1, space last) -> { text, confidence }.',
  inputs: ['probs'],
  checkParams(params) {
    const d = dictionaryParam(params);
    if (!d) return ['param dictionary must be { model, version, asset }'];
    if (!dictionaryPath(d)) return [`dictionary asset ${d.asset} of model ${d.model}@${d.version} is not in the model catalogue`];
    if (params['softmax'] !== undefined && typeof params['softmax'] !== 'boolean') return ['param softmax must be a boolean'];
    return [];
  },
  types: () => ({
    inputs: { probs: { kind: 'tensor', dtype: 'float32', dims: [null, null, null] } },
    output: { kind: 'json', schema: { type: 'object', required: ['text', 'confidence'], properties: { text: { type: 'string' }, confidence: { type: 'number' } } } },
  }),
};

const classifyTop1: OpSpec = {
  description:
    'Top class of a [1,C] probability tensor -> { [params.key]: params.labels[argmax], confidence }; with params.threshold, a top class scoring below it gives params.fallback instead ' +
    '(e.g. rotate a text line only when the orientation classifier is sure).',
  inputs: ['probs'],
  checkParams(params) {
    const labels = params['labels'];
    if (!Array.isArray(labels) || labels.length === 0) return ['param labels must be a non-empty array'];
    if (typeof params['key'] !== 'string') return ['param key must be a string'];
    const problems: string[] = [];
    unitNumber(params, 'threshold', problems);
    if (params['threshold'] !== undefined && !labels.some((l) => l === params['fallback'])) problems.push('param fallback must be one of the labels when threshold is set');
    return problems;
  },
  types(params) {
    const labels = Array.isArray(params['labels']) ? (params['labels'] as unknown[]) : [];
    const key = typeof params['key'] === 'string' ? params['key'] : 'label';
    return {
      inputs: { probs: { kind: 'tensor', dtype: 'float32', dims: [null, labels.length] } },
      output: { kind: 'json', schema: { type: 'object', required: [key, 'confidence'], properties: { [key]: { enum: labels }, confidence: { type: 'number' } } } },
    };
  },
};

/** The built-in ops' specs, by op name. */
export const OP_SPECS: OpSpecs = new Map<string, OpSpec>([
  ['image.decode', imageDecode],
  ['image.to_tensor', imageToTensorOp],
  ['model.run', modelRun],
  ['ctc.greedy_decode', ctcGreedy],
  ['classify.top1', classifyTop1],
  ['classify.topk', classifyTopK],
  ['text.detect_boxes', detectBoxes],
  ['image.crop_regions', cropRegions],
  ['image.rotate', imageRotate],
  ['text.join', textJoin],
  ['ocr.lines', ocrLines],
  ['list.map', listMap],
  ['object.build', objectBuild],
]);

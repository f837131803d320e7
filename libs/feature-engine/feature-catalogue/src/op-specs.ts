/**
 * The op specs: what the graph checker, the catalogue and pool routing need of each op (its
 * inputs, its param checks, the models it calls). Their implementations (image decoding, model
 * runs, CTC) live in #feature-engine/features, so this lib loads neither sharp nor a runtime.
 */
import type { ModelRef } from '#model-service/tensors';
import { findShippedModel } from '#model-service/model-format';
import type { OpSpec, OpSpecs, PortType } from './types.js';

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
  description: 'Base64 PNG/JPEG/WebP (data: URL accepted) -> RGB pixels. Refuses non-images and images over maxPixels.',
  inputs: ['image'],
  checkParams(params) {
    const problems: string[] = [];
    positiveInt(params, 'maxPixels', problems, false);
    return problems;
  },
  types: () => ({ inputs: { image: STRING }, output: IMAGE }),
};

const imageToTensorOp: OpSpec = {
  description: 'RGB image -> normalised NCHW float32 tensor at a fixed height (PaddleOCR line preprocessing).',
  inputs: ['image'],
  checkParams(params) {
    const problems: string[] = [];
    positiveInt(params, 'height', problems, true);
    positiveInt(params, 'maxWidth', problems, params['fixedWidth'] === undefined);
    positiveInt(params, 'widthMultiple', problems, false);
    positiveInt(params, 'fixedWidth', problems, false);
    const order = params['channelOrder'];
    if (order !== undefined && order !== 'rgb' && order !== 'bgr') problems.push('param channelOrder must be "rgb" or "bgr"');
    for (const k of ['mean', 'std']) if (params[k] !== undefined && typeof params[k] !== 'number') problems.push(`param ${k} must be a number`);
    if (params['std'] === 0) problems.push('param std must not be 0');
    return problems;
  },
  types: (params) => ({
    inputs: { image: IMAGE },
    output: { kind: 'tensor', dtype: 'float32', dims: [1, 3, typeof params['height'] === 'number' ? params['height'] : null, typeof params['fixedWidth'] === 'number' ? params['fixedWidth'] : null] },
  }),
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
  description: 'Top class of a [1,C] probability tensor -> { [params.key]: params.labels[argmax], confidence }.',
  inputs: ['probs'],
  checkParams(params) {
    const labels = params['labels'];
    if (!Array.isArray(labels) || labels.length === 0) return ['param labels must be a non-empty array'];
    if (typeof params['key'] !== 'string') return ['param key must be a string'];
    return [];
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
]);

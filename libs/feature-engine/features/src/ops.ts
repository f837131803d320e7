/**
 * The op registry: op name -> plain async implementation. Feature definitions refer
 * to ops by name only, so a definition stays JSON.
 */
import sharp, { type Metadata } from 'sharp';
import { ProblemError } from '#infra/errors';
import { findShippedModel } from '#model-service/model-format';
import type { ModelRef, TensorData } from '#model-service/tensors';
import { ctcGreedyDecode, loadCtcCharset } from './ctc.js';
import type { OpDefinition, OpRegistry } from './types.js';

/** Decoded image: packed 8-bit RGB rows. */
export interface RawImage {
  width: number;
  height: number;
  channels: 3;
  data: Uint8Array;
}

export const DEFAULT_MAX_PIXELS = 16_000_000;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)?(;[\w-]+=[\w.-]+)*;base64,/i;
const ACCEPTED_MEDIA = new Set(['image/png', 'image/jpeg', 'image/jpg', 'image/webp']);

function isRawImage(v: unknown): v is RawImage {
  const o = v as Partial<RawImage> | null;
  return !!o && typeof o.width === 'number' && typeof o.height === 'number' && o.channels === 3 && o.data instanceof Uint8Array;
}

function isTensor(v: unknown): v is TensorData {
  const o = v as Partial<TensorData> | null;
  return !!o && typeof o.dtype === 'string' && Array.isArray(o.dims) && ArrayBuffer.isView(o.data);
}

function sniffImage(buf: Uint8Array): 'png' | 'jpeg' | 'webp' | null {
  if (buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47 && buf[4] === 0x0d && buf[5] === 0x0a && buf[6] === 0x1a && buf[7] === 0x0a) return 'png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.length >= 12 && String.fromCharCode(...buf.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...buf.subarray(8, 12)) === 'WEBP') return 'webp';
  return null;
}

/** Base64 (optionally a `data:image/...;base64,` URL) -> image bytes, or a 422 invalid_input. */
export function decodeBase64Image(value: string): Buffer {
  let s = value;
  const m = DATA_URL.exec(s);
  if (m) {
    const media = m[1]?.toLowerCase();
    if (media && !ACCEPTED_MEDIA.has(media)) throw new ProblemError('invalid_input', `Data URL media type ${media} is not a PNG, JPEG or WebP image`);
    s = s.slice(m[0].length);
  } else if (s.startsWith('data:')) {
    throw new ProblemError('invalid_input', 'A data URL must be base64-encoded (data:image/png;base64,...)');
  }
  s = s.replace(/\s+/g, '');
  if (s.length === 0 || s.length % 4 !== 0 || !BASE64.test(s)) {
    throw new ProblemError('invalid_input', 'The image is not valid base64');
  }
  return Buffer.from(s, 'base64');
}

/** Image bytes -> packed RGB (EXIF-oriented, alpha flattened onto white), or a 422 invalid_input. */
export async function decodeImage(bytes: Uint8Array, maxPixels = DEFAULT_MAX_PIXELS): Promise<RawImage> {
  const kind = sniffImage(bytes);
  if (!kind) throw new ProblemError('invalid_input', 'The data is not a PNG, JPEG or WebP image');
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ProblemError('invalid_input', `The ${kind.toUpperCase()} image could not be read`, { cause: e });
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width < 1 || height < 1) throw new ProblemError('invalid_input', 'The image has no pixels');
  if (width * height > maxPixels) {
    throw new ProblemError('invalid_input', `The image is ${width}x${height} (${width * height} pixels); the limit is ${maxPixels} pixels`);
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    throw new ProblemError('invalid_input', `The ${kind.toUpperCase()} image could not be decoded`, { cause: e });
  }
}

export interface ToTensorParams {
  /** Target height (PaddleOCR recognition and orientation: 48). */
  height: number;
  /** Widest the resized image may be; wider lines are squeezed. */
  maxWidth: number;
  /** Tensor width is rounded up to a multiple of this (right padding). */
  widthMultiple?: number;
  /** Fixed tensor width (e.g. 192 for the orientation model): resize up to it, pad the rest. */
  fixedWidth?: number;
  channelOrder?: 'rgb' | 'bgr';
  /** Normalisation (x/255 - mean) / std; PaddleOCR uses 0.5 and 0.5. */
  mean?: number;
  std?: number;
}

/**
 * PaddleOCR-style line preprocessing: resize to `height` keeping the aspect ratio
 * (width capped), normalise, NCHW float32 [1,3,H,W], zero (mid-grey) padding on the right.
 */
export async function imageToTensor(img: RawImage, p: ToTensorParams): Promise<TensorData> {
  const h = p.height;
  const cap = p.fixedWidth ?? p.maxWidth;
  const resizedW = Math.max(1, Math.min(cap, Math.ceil((h * img.width) / img.height)));
  const multiple = p.widthMultiple ?? 1;
  const tensorW = p.fixedWidth ?? Math.ceil(resizedW / multiple) * multiple;
  const resized = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(resizedW, h, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  const mean = p.mean ?? 0.5;
  const std = p.std ?? 0.5;
  const bgr = (p.channelOrder ?? 'rgb') === 'bgr';
  const out = new Float32Array(3 * h * tensorW);
  const plane = h * tensorW;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < resizedW; x++) {
      const src = (y * resizedW + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = resized[src + (bgr ? 2 - c : c)] ?? 0;
        out[c * plane + y * tensorW + x] = (v / 255 - mean) / std;
      }
    }
  }
  return { dtype: 'float32', dims: [1, 3, h, tensorW], data: out };
}

// ---- param helpers -------------------------------------------------------------

function str(params: Record<string, unknown>, key: string): string | undefined {
  const v = params[key];
  return typeof v === 'string' ? v : undefined;
}

function positiveInt(params: Record<string, unknown>, key: string, problems: string[], required: boolean): void {
  const v = params[key];
  if (v === undefined && !required) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) problems.push(`param ${key} must be a positive integer`);
}

function modelParam(params: Record<string, unknown>): ModelRef | null {
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

function expect<T>(value: unknown, guard: (v: unknown) => v is T, what: string): T {
  if (!guard(value)) throw new ProblemError('internal_error', `Pipeline wiring error: expected ${what}`);
  return value;
}

// ---- the ops --------------------------------------------------------------------

const imageDecode: OpDefinition = {
  description: 'Base64 PNG/JPEG/WebP (data: URL accepted) -> RGB pixels. Refuses non-images and images over maxPixels.',
  inputs: ['image'],
  checkParams(params) {
    const problems: string[] = [];
    positiveInt(params, 'maxPixels', problems, false);
    return problems;
  },
  async run(inputs, params) {
    const value = inputs['image'];
    if (typeof value !== 'string') throw new ProblemError('invalid_input', 'The image must be a base64 string');
    const maxPixels = typeof params['maxPixels'] === 'number' ? params['maxPixels'] : DEFAULT_MAX_PIXELS;
    return decodeImage(decodeBase64Image(value), maxPixels);
  },
};

const imageToTensorOp: OpDefinition = {
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
  async run(inputs, params) {
    const img = expect(inputs['image'], isRawImage, 'a decoded image');
    return imageToTensor(img, params as unknown as ToTensorParams);
  },
};

const modelRun: OpDefinition = {
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
  async run(inputs, params, ctx) {
    const ref = modelParam(params);
    if (!ref) throw new ProblemError('internal_error', 'model.run without a model');
    const feeds: Record<string, TensorData> = {};
    for (const [name, v] of Object.entries(inputs)) feeds[name] = expect(v, isTensor, `a tensor for model input ${name}`);
    const outputs = await ctx.runner.run(ref, feeds);
    ctx.useModel(ref);
    const wanted = str(params, 'output');
    const names = Object.keys(outputs);
    const name = wanted ?? (names.length === 1 ? names[0] : undefined);
    const out = name === undefined ? undefined : outputs[name];
    if (!out) throw new ProblemError('internal_error', `Model ${ref.name}@${ref.version} gave no output ${wanted ?? '(ambiguous: ' + names.join(', ') + ')'}`);
    return out;
  },
};

const ctcGreedy: OpDefinition = {
  description: 'Greedy CTC decoding of [1,T,C] probabilities with a model dictionary asset (blank 0, chars from 1, space last) -> { text, confidence }.',
  inputs: ['probs'],
  checkParams(params) {
    const d = dictionaryParam(params);
    if (!d) return ['param dictionary must be { model, version, asset }'];
    if (!dictionaryPath(d)) return [`dictionary asset ${d.asset} of model ${d.model}@${d.version} is not in the model catalogue`];
    if (params['softmax'] !== undefined && typeof params['softmax'] !== 'boolean') return ['param softmax must be a boolean'];
    return [];
  },
  async run(inputs, params) {
    const probs = expect(inputs['probs'], isTensor, 'a [N,T,C] tensor');
    const d = dictionaryParam(params);
    const path = d && dictionaryPath(d);
    if (!path) throw new ProblemError('internal_error', 'CTC dictionary is missing');
    const charset = await loadCtcCharset(path);
    const [first] = ctcGreedyDecode(probs, charset, { softmax: params['softmax'] === true });
    const text = params['trim'] === false ? (first?.text ?? '') : (first?.text ?? '').trim();
    return { text, confidence: first?.confidence ?? 0 };
  },
};

const classifyTop1: OpDefinition = {
  description: 'Top class of a [1,C] probability tensor -> { [params.key]: params.labels[argmax], confidence }.',
  inputs: ['probs'],
  checkParams(params) {
    const labels = params['labels'];
    if (!Array.isArray(labels) || labels.length === 0) return ['param labels must be a non-empty array'];
    if (typeof params['key'] !== 'string') return ['param key must be a string'];
    return [];
  },
  async run(inputs, params) {
    const probs = expect(inputs['probs'], isTensor, 'a [1,C] tensor');
    const labels = params['labels'] as unknown[];
    const classes = probs.dims.at(-1) ?? 0;
    if (classes !== labels.length) throw new ProblemError('internal_error', `Model gave ${classes} classes for ${labels.length} labels`);
    let best = 0;
    for (let c = 1; c < classes; c++) if (Number(probs.data[c]) > Number(probs.data[best])) best = c;
    return { [params['key'] as string]: labels[best], confidence: Number(probs.data[best]) };
  },
};

/** The built-in ops. */
export const DEFAULT_OPS: OpRegistry = new Map<string, OpDefinition>([
  ['image.decode', imageDecode],
  ['image.to_tensor', imageToTensorOp],
  ['model.run', modelRun],
  ['ctc.greedy_decode', ctcGreedy],
  ['classify.top1', classifyTop1],
]);

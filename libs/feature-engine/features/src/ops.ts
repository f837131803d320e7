/**
 * The op registry: op name -> plain async implementation, joined to the op specs of
 * #feature-engine/feature-catalogue (inputs, param checks, models). Feature definitions refer
 * to ops by name only, so a definition stays JSON. Image decoding loads sharp: only workers
 * (and benches) run ops.
 */
import sharp, { type Metadata } from 'sharp';
import { ProblemError } from '#infra/errors';
import { dictionaryAssetPath, modelParam, OP_SPECS } from '#feature-engine/feature-catalogue';
import type { TensorData } from '#model-service/tensors';
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
/** A data URL's header (`data:<media>;<param>=<value>…;base64,`) longer than this is refused. */
export const MAX_DATA_URL_HEADER = 256;
const MEDIA_TYPE = /^[\w.+-]+\/[\w.+-]+$/;
const PARAMETER = /^[\w-]+=[\w.-]+$/;
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
  if (s.slice(0, 5).toLowerCase() === 'data:') {
    const { media, payloadAt } = parseDataUrlHeader(s);
    if (media && !ACCEPTED_MEDIA.has(media)) throw new ProblemError('invalid_input', `Data URL media type ${media} is not a PNG, JPEG or WebP image`);
    s = s.slice(payloadAt);
  }
  s = s.replace(/\s+/g, '');
  if (s.length === 0 || s.length % 4 !== 0 || !BASE64.test(s)) {
    throw new ProblemError('invalid_input', 'The image is not valid base64');
  }
  return Buffer.from(s, 'base64');
}

/**
 * Reads the header of a `data:` URL without a backtracking regular expression: the header
 * (up to the first comma) must be at most MAX_DATA_URL_HEADER characters, so the work is
 * bounded whatever the string (millions of `;a=b` parameters are one 422, not a stack overflow).
 */
export function parseDataUrlHeader(value: string): { media: string | undefined; payloadAt: number } {
  const comma = value.indexOf(',', 5);
  if (comma < 0 || comma > MAX_DATA_URL_HEADER) {
    throw new ProblemError('invalid_input', `A data URL must be data:image/png;base64,... with a header of at most ${MAX_DATA_URL_HEADER} characters`);
  }
  const parts = value.slice(5, comma).split(';');
  const first = parts.shift() ?? '';
  if (parts.pop()?.toLowerCase() !== 'base64') throw new ProblemError('invalid_input', 'A data URL must be base64-encoded (data:image/png;base64,...)');
  if ((first !== '' && !MEDIA_TYPE.test(first)) || !parts.every((p) => PARAMETER.test(p))) {
    throw new ProblemError('invalid_input', 'The data URL header is malformed (data:<media type>[;name=value]*;base64,...)');
  }
  return { media: first === '' ? undefined : first.toLowerCase(), payloadAt: comma + 1 };
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

function expect<T>(value: unknown, guard: (v: unknown) => v is T, what: string): T {
  if (!guard(value)) throw new ProblemError('internal_error', `Pipeline wiring error: expected ${what}`);
  return value;
}

// ---- the implementations (one per op spec) -------------------------------------

const RUNS: Record<string, OpDefinition['run']> = {
  'image.decode': async (inputs, params) => {
    const value = inputs['image'];
    if (typeof value !== 'string') throw new ProblemError('invalid_input', 'The image must be a base64 string');
    const maxPixels = typeof params['maxPixels'] === 'number' ? params['maxPixels'] : DEFAULT_MAX_PIXELS;
    return decodeImage(decodeBase64Image(value), maxPixels);
  },
  'image.to_tensor': async (inputs, params) => {
    const img = expect(inputs['image'], isRawImage, 'a decoded image');
    return imageToTensor(img, params as unknown as ToTensorParams);
  },
  'model.run': async (inputs, params, ctx) => {
    const ref = modelParam(params);
    if (!ref) throw new ProblemError('internal_error', 'model.run without a model');
    const feeds: Record<string, TensorData> = {};
    for (const [name, v] of Object.entries(inputs)) feeds[name] = expect(v, isTensor, `a tensor for model input ${name}`);
    const outputs = await ctx.runner.run(ref, feeds);
    ctx.useModel(ref);
    const wanted = typeof params['output'] === 'string' ? params['output'] : undefined;
    const names = Object.keys(outputs);
    const name = wanted ?? (names.length === 1 ? names[0] : undefined);
    const out = name === undefined ? undefined : outputs[name];
    if (!out) throw new ProblemError('internal_error', `Model ${ref.name}@${ref.version} gave no output ${wanted ?? '(ambiguous: ' + names.join(', ') + ')'}`);
    return out;
  },
  'ctc.greedy_decode': async (inputs, params) => {
    const probs = expect(inputs['probs'], isTensor, 'a [N,T,C] tensor');
    const path = dictionaryAssetPath(params);
    if (!path) throw new ProblemError('internal_error', 'CTC dictionary is missing');
    const charset = await loadCtcCharset(path);
    const [first] = ctcGreedyDecode(probs, charset, { softmax: params['softmax'] === true });
    const text = params['trim'] === false ? (first?.text ?? '') : (first?.text ?? '').trim();
    return { text, confidence: first?.confidence ?? 0 };
  },
  'classify.top1': async (inputs, params) => {
    const probs = expect(inputs['probs'], isTensor, 'a [1,C] tensor');
    const labels = params['labels'] as unknown[];
    const classes = probs.dims.at(-1) ?? 0;
    if (classes !== labels.length) throw new ProblemError('internal_error', `Model gave ${classes} classes for ${labels.length} labels`);
    let best = 0;
    for (let c = 1; c < classes; c++) if (Number(probs.data[c]) > Number(probs.data[best])) best = c;
    return { [params['key'] as string]: labels[best], confidence: Number(probs.data[best]) };
  },
};

/** The built-in ops: each spec of OP_SPECS with its implementation. */
export const DEFAULT_OPS: OpRegistry = new Map<string, OpDefinition>(
  [...OP_SPECS].map(([name, spec]) => {
    const run = RUNS[name];
    if (!run) throw new Error(`op ${name} has no implementation`);
    return [name, { ...spec, run }];
  }),
);

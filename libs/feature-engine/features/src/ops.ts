/**
 * The op registry: op name -> plain async implementation, joined to the op specs of
 * #feature-engine/feature-catalogue (inputs, param checks, models). Feature definitions refer
 * to ops by name only, so a definition stays JSON. Image decoding loads sharp: only workers
 * (and benches) run ops.
 */
import sharp, { type Metadata } from 'sharp';
import { ProblemError } from '#infra/errors';
import { dictionaryAssetPath, modelParam, OP_SPECS, subGraphParam } from '#feature-engine/feature-catalogue';
import type { TensorData } from '#model-service/tensors';
import { ctcGreedyDecode, loadCtcCharset } from './ctc.js';
import type { Quad } from './geometry.js';
import { cropQuad, isRawImage, rotateImage, type RawImage } from './image-ops.js';
import { detectTextBoxes, readingOrder } from './text-detection.js';
import type { OpDefinition, OpRegistry } from './types.js';

export type { RawImage };

export const DEFAULT_MAX_PIXELS = 16_000_000;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** A data URL's header (`data:<media>;<param>=<value>…;base64,`) longer than this is refused. */
export const MAX_DATA_URL_HEADER = 256;
const MEDIA_TYPE = /^[\w.+-]+\/[\w.+-]+$/;
const PARAMETER = /^[\w-]+=[\w.-]+$/;
const ACCEPTED_MEDIA = new Set(['image/png', 'image/jpeg', 'image/jpg', 'image/webp']);

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
export async function decodeImage(bytes: Uint8Array, maxPixels = DEFAULT_MAX_PIXELS, minSide = 1): Promise<RawImage> {
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
  if (minSide > 1 && Math.min(width, height) < minSide) throw new ProblemError('invalid_input', `The image is ${width}x${height}; both sides must be at least ${minSide} pixels`);
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
  /** Line mode: target height (PaddleOCR recognition and orientation: 48). */
  height?: number;
  /** Line mode: widest the resized image may be; wider lines are squeezed. */
  maxWidth?: number;
  /** Line mode: tensor width is rounded up to a multiple of this (right padding). */
  widthMultiple?: number;
  /** Line mode: fixed tensor width (e.g. 192 for the orientation model): resize up to it, pad the rest. */
  fixedWidth?: number;
  /**
   * Line mode with fixedWidth: what a line longer than fixedWidth (once at `height`) becomes:
   * 'squeeze' (default, PaddleOCR) or 'crop' (its left part, undistorted: what an orientation
   * classifier reads best on long lines).
   */
  overflow?: 'squeeze' | 'crop';
  /** Page mode: the longest side is scaled down to at most this (never up). */
  maxSide?: number;
  /** Page mode: both sides are rounded to a multiple of this (PaddleOCR detection: 32), at least one multiple. */
  sizeMultiple?: number;
  channelOrder?: 'rgb' | 'bgr';
  /** Normalisation (x/255 - mean) / std, one value or one per tensor channel; PaddleOCR lines use 0.5 and 0.5. */
  mean?: number | readonly number[];
  std?: number | readonly number[];
}

/** The tensor size of an image in page mode (PaddleOCR's DetResizeForTest, limit type "max"). */
export function pageTensorSize(width: number, height: number, maxSide: number, multiple = 32): { width: number; height: number } {
  const ratio = Math.min(1, maxSide / Math.max(width, height));
  const round = (v: number) => Math.max(multiple, Math.round((v * ratio) / multiple) * multiple);
  return { width: round(width), height: round(height) };
}

/**
 * Image -> normalised NCHW float32 [1,3,H,W]. Line mode (PaddleOCR recognition): resize to
 * `height` keeping the aspect ratio (width capped), zero padding on the right. Page mode
 * (`maxSide`, PaddleOCR detection): resize to pageTensorSize, no padding, so the tensor
 * covers the whole page and a map of its size scales back by page/tensor.
 */
export async function imageToTensor(img: RawImage, p: ToTensorParams): Promise<TensorData> {
  let h: number;
  let resizedW: number;
  let tensorW: number;
  let srcW = img.width;
  if (p.maxSide !== undefined) {
    const size = pageTensorSize(img.width, img.height, p.maxSide, p.sizeMultiple ?? 32);
    h = size.height;
    resizedW = size.width;
    tensorW = size.width;
  } else {
    h = p.height ?? 48;
    const cap = p.fixedWidth ?? p.maxWidth ?? 1280;
    if (p.overflow === 'crop' && p.fixedWidth !== undefined) srcW = Math.max(1, Math.min(img.width, Math.floor((img.height * p.fixedWidth) / h)));
    resizedW = Math.max(1, Math.min(cap, Math.ceil((h * srcW) / img.height)));
    const multiple = p.widthMultiple ?? 1;
    tensorW = p.fixedWidth ?? Math.ceil(resizedW / multiple) * multiple;
  }
  const source = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  const resized =
    resizedW === img.width && h === img.height
      ? img.data
      : await (srcW < img.width ? source.extract({ left: 0, top: 0, width: srcW, height: img.height }) : source)
          .resize(resizedW, h, { fit: 'fill', kernel: 'linear' })
          .raw()
          .toBuffer();
  const perChannel = (v: number | readonly number[] | undefined, fallback: number): [number, number, number] =>
    v === undefined ? [fallback, fallback, fallback] : typeof v === 'number' ? [v, v, v] : [v[0] ?? fallback, v[1] ?? fallback, v[2] ?? fallback];
  const mean = perChannel(p.mean, 0.5);
  const std = perChannel(p.std, 0.5);
  const bgr = (p.channelOrder ?? 'rgb') === 'bgr';
  const out = new Float32Array(3 * h * tensorW);
  const plane = h * tensorW;
  for (let c = 0; c < 3; c++) {
    const src0 = bgr ? 2 - c : c;
    const scale = 1 / (255 * std[c]!);
    const shift = mean[c]! / std[c]!;
    for (let y = 0; y < h; y++) {
      const rowOut = c * plane + y * tensorW;
      const rowIn = y * resizedW * 3 + src0;
      for (let x = 0; x < resizedW; x++) out[rowOut + x] = (resized[rowIn + x * 3] ?? 0) * scale - shift;
    }
  }
  return { dtype: 'float32', dims: [1, 3, h, tensorW], data: out };
}

function expect<T>(value: unknown, guard: (v: unknown) => v is T, what: string): T {
  if (!guard(value)) throw new ProblemError('internal_error', `Pipeline wiring error: expected ${what}`);
  return value;
}

function isBoxList(v: unknown): v is { box: Quad }[] {
  return Array.isArray(v) && v.every((b) => Array.isArray((b as { box?: unknown } | null)?.box) && (b as { box: unknown[] }).box.length === 4);
}

/** Top-k of the first row of a [1,C] (or [C]) score tensor, with labels, best first. */
export function topK(scores: TensorData, labels: readonly unknown[], k: number, softmax: boolean): { label: unknown; score: number }[] {
  const classes = scores.dims.at(-1) ?? 0;
  if (classes !== labels.length) throw new ProblemError('internal_error', `Model gave ${classes} classes for ${labels.length} labels`);
  let row = Array.from({ length: classes }, (_, c) => Number(scores.data[c]));
  if (softmax) {
    const max = Math.max(...row);
    const exps = row.map((v) => Math.exp(v - max));
    const total = exps.reduce((a, b) => a + b, 0);
    row = exps.map((e) => e / total);
  }
  return row
    .map((score, c) => ({ label: labels[c], score, c }))
    .sort((a, b) => b.score - a.score || a.c - b.c)
    .slice(0, Math.max(1, k))
    .map(({ label, score }) => ({ label, score }));
}

/** Non-empty strings of a list joined with `separator`. */
export function joinTexts(items: readonly unknown[], separator: string): string {
  return items.filter((t): t is string => typeof t === 'string' && t.length > 0).join(separator);
}

/** What the per-region sub-graph of `ocr` reads in one box. */
export interface LineRead {
  text: string;
  confidence: number;
  /** Orientation the region was read at (0 or 180). */
  angle?: number;
}

export interface OcrLine {
  text: string;
  confidence: number;
  box: Quad;
  angle: number;
}

/** Boxes and their reads -> lines (empty or unconfident reads dropped) in reading order, and the page text. */
export function assembleLines(boxes: readonly { box: Quad }[], reads: readonly LineRead[], minConfidence: number): { lines: OcrLine[]; text: string } {
  const lines: OcrLine[] = [];
  boxes.forEach(({ box }, i) => {
    const read = reads[i];
    if (!read || typeof read.text !== 'string' || read.text.trim() === '' || !(read.confidence >= minConfidence)) return;
    lines.push({ text: read.text.trim(), confidence: Math.round(read.confidence * 10_000) / 10_000, box: box.map(([x, y]) => [x, y]) as Quad, angle: read.angle ?? 0 });
  });
  const ordered = readingOrder(lines);
  return { lines: ordered, text: joinTexts(ordered.map((l) => l.text), '\n') };
}

export const DEFAULT_MAP_CONCURRENCY = 16;
export const DEFAULT_MAP_MAX_ITEMS = 300;

/** fn over every item with at most `limit` calls in flight; results in item order; the first failure rejects. */
export async function mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane));
  return results;
}

// ---- the implementations (one per op spec) -------------------------------------

const RUNS: Record<string, OpDefinition['run']> = {
  'image.decode': async (inputs, params) => {
    const value = inputs['image'];
    if (typeof value !== 'string') throw new ProblemError('invalid_input', 'The image must be a base64 string');
    const maxPixels = typeof params['maxPixels'] === 'number' ? params['maxPixels'] : DEFAULT_MAX_PIXELS;
    return decodeImage(decodeBase64Image(value), maxPixels, typeof params['minSide'] === 'number' ? params['minSide'] : 1);
  },
  'image.to_tensor': async (inputs, params) => {
    const img = expect(inputs['image'], isRawImage, 'a decoded image');
    return imageToTensor(img, params);
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
  'classify.topk': async (inputs, params) => {
    const probs = expect(inputs['probs'], isTensor, 'a [1,C] tensor');
    return topK(probs, params['labels'] as unknown[], typeof params['k'] === 'number' ? params['k'] : 1, params['softmax'] === true);
  },
  'text.detect_boxes': async (inputs, params) => {
    const map = expect(inputs['map'], isTensor, 'a [1,1,H,W] probability map');
    const page = expect(inputs['image'], isRawImage, 'the decoded page');
    if (map.dtype !== 'float32' || map.dims.length !== 4 || map.dims[0] !== 1 || map.dims[1] !== 1) {
      throw new ProblemError('internal_error', `text.detect_boxes needs a float32 [1,1,H,W] map, got ${map.dtype} [${map.dims.join(',')}]`);
    }
    const [, , h = 0, w = 0] = map.dims;
    return detectTextBoxes(map.data as Float32Array, w, h, page.width, page.height, params);
  },
  'image.crop_regions': async (inputs, params) => {
    const img = expect(inputs['image'], isRawImage, 'a decoded image');
    const boxes = expect(inputs['boxes'], isBoxList, 'a list of { box: 4 points }');
    const vertical = typeof params['verticalRatio'] === 'number' ? params['verticalRatio'] : 1.5;
    return boxes.map(({ box }) => {
      const crop = cropQuad(img, box);
      // Vertical text (PaddleOCR): a crop much taller than wide is turned a quarter counter-clockwise.
      return crop.height >= crop.width * vertical ? rotateImage(crop, 270) : crop;
    });
  },
  'image.rotate': async (inputs) => {
    const img = expect(inputs['image'], isRawImage, 'a decoded image');
    const angle = inputs['angle'];
    if (typeof angle !== 'number' || angle % 90 !== 0) throw new ProblemError('internal_error', `image.rotate needs an angle that is a multiple of 90, got ${String(angle)}`);
    return rotateImage(img, angle);
  },
  'text.join': async (inputs, params) => {
    const items = inputs['items'];
    if (!Array.isArray(items)) throw new ProblemError('internal_error', 'Pipeline wiring error: text.join needs a list');
    const field = typeof params['field'] === 'string' ? params['field'] : undefined;
    const texts = items.map((it: unknown): unknown => (field === undefined ? it : (it as Record<string, unknown> | null)?.[field]));
    return joinTexts(texts, typeof params['separator'] === 'string' ? params['separator'] : '\n');
  },
  'ocr.lines': async (inputs, params) => {
    const boxes = expect(inputs['boxes'], isBoxList, 'a list of { box: 4 points }');
    const reads = inputs['reads'];
    if (!Array.isArray(reads) || reads.length !== boxes.length) throw new ProblemError('internal_error', `ocr.lines needs one read per box (${boxes.length} boxes)`);
    return assembleLines(boxes, reads as LineRead[], typeof params['minConfidence'] === 'number' ? params['minConfidence'] : 0);
  },
  'list.map': async (inputs, params, ctx) => {
    const items = inputs['items'];
    if (!Array.isArray(items)) throw new ProblemError('internal_error', 'Pipeline wiring error: list.map needs a list');
    const graph = subGraphParam(params);
    if (!graph) throw new ProblemError('internal_error', 'list.map without a graph');
    const maxItems = typeof params['maxItems'] === 'number' ? params['maxItems'] : DEFAULT_MAP_MAX_ITEMS;
    if (items.length > maxItems) throw new ProblemError('invalid_input', `The input has ${items.length} items to process; the limit is ${maxItems}`);
    const concurrency = typeof params['concurrency'] === 'number' ? params['concurrency'] : DEFAULT_MAP_CONCURRENCY;
    return mapConcurrently(items, concurrency, (item) => ctx.runGraph(graph, item));
  },
  'object.build': async (inputs) => ({ ...inputs }),
  'classify.top1': async (inputs, params) => {
    const probs = expect(inputs['probs'], isTensor, 'a [1,C] tensor');
    const [best] = topK(probs, params['labels'] as unknown[], 1, false);
    const threshold = typeof params['threshold'] === 'number' ? params['threshold'] : 0;
    const label = best && best.score >= threshold ? best.label : params['fallback'];
    return { [params['key'] as string]: label, confidence: best?.score ?? 0 };
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

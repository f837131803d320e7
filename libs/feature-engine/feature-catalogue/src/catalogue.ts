import { compareVersions } from '#model-service/model-format';
import type { ModelRef } from '#model-service/tensors';
import { FeatureDefinitionError, validateFeatureDefinition } from './graph.js';
import { OP_SPECS } from './op-specs.js';
import type { FeatureDefinition, OpSpecs } from './types.js';

/** Largest decoded image accepted by the image features. */
export const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
/** Base64 length of MAX_IMAGE_BYTES plus room for a data: URL prefix. */
export const MAX_IMAGE_BASE64_LENGTH = Math.ceil(MAX_IMAGE_BYTES / 3) * 4 + 64;

const imageInput = {
  type: 'object',
  additionalProperties: false,
  required: ['image'],
  properties: {
    image: {
      type: 'string',
      description: 'The image, base64-encoded PNG, JPEG or WebP (a data:image/...;base64, prefix is accepted).',
      minLength: 4,
      maxLength: MAX_IMAGE_BASE64_LENGTH,
      contentEncoding: 'base64',
    },
  },
};

const PPOCR_LINE_TENSOR = { channelOrder: 'bgr', mean: 0.5, std: 0.5 };

export const OCR_LINE_V1: FeatureDefinition = {
  name: 'ocr-line',
  version: '1',
  description: 'Reads one line of printed text from an image (PaddleOCR PP-OCRv4 recognition, Chinese + English charset).',
  input: imageInput,
  output: {
    type: 'object',
    additionalProperties: false,
    required: ['text', 'confidence'],
    properties: {
      text: { type: 'string', description: 'The text read, trimmed.' },
      confidence: { type: 'number', minimum: 0, maximum: 1, description: 'Mean per-character probability.' },
    },
  },
  price: { units: 1, unitType: 'image' },
  nodes: [
    { id: 'decode', op: 'image.decode', params: { maxPixels: 16_000_000 }, inputs: { image: '$input.image' } },
    { id: 'tensor', op: 'image.to_tensor', params: { height: 48, maxWidth: 1280, widthMultiple: 8, ...PPOCR_LINE_TENSOR }, inputs: { image: 'decode' } },
    { id: 'recognise', op: 'model.run', params: { model: 'ppocr-rec', version: '1' }, inputs: { x: 'tensor' } },
    {
      id: 'text',
      op: 'ctc.greedy_decode',
      params: { dictionary: { model: 'ppocr-rec', version: '1', asset: 'dictionary' } },
      inputs: { probs: 'recognise' },
    },
  ],
  outputNode: 'text',
};

export const IMAGE_ORIENTATION_V1: FeatureDefinition = {
  name: 'image-orientation',
  version: '1',
  description: 'Tells whether a text-line image is upright (0) or upside down (180) (PaddleOCR mobile v2.0 orientation classifier).',
  input: imageInput,
  output: {
    type: 'object',
    additionalProperties: false,
    required: ['angle', 'confidence'],
    properties: {
      angle: { enum: [0, 180], description: 'Rotation of the text in degrees.' },
      confidence: { type: 'number', minimum: 0, maximum: 1 },
    },
  },
  price: { units: 1, unitType: 'image' },
  nodes: [
    { id: 'decode', op: 'image.decode', params: { maxPixels: 16_000_000 }, inputs: { image: '$input.image' } },
    { id: 'tensor', op: 'image.to_tensor', params: { height: 48, fixedWidth: 192, ...PPOCR_LINE_TENSOR }, inputs: { image: 'decode' } },
    { id: 'classify', op: 'model.run', params: { model: 'ppocr-cls', version: '1' }, inputs: { x: 'tensor' } },
    { id: 'angle', op: 'classify.top1', params: { labels: [0, 180], key: 'angle' }, inputs: { probs: 'classify' } },
  ],
  outputNode: 'angle',
};

const point = { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2, maxItems: 2 };

/** Detection (PP-OCRv4 DB) preprocessing: longest side at most 960, sides multiples of 32, ImageNet normalisation in BGR order. */
const PPOCR_DET_TENSOR = { maxSide: 960, sizeMultiple: 32, channelOrder: 'bgr', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** Most text regions one `ocr` page may have; more is a 422 invalid_input (the page should be split). */
export const OCR_MAX_REGIONS = 300;

export const OCR_V1: FeatureDefinition = {
  name: 'ocr',
  version: '1',
  description:
    'Reads a whole page: detects the text regions (PP-OCRv4 detection), straightens each one, turns the upside-down ones (orientation classifier) and reads them (PP-OCRv4 recognition). ' +
    `Lines come in reading order with their confidence and box; at most ${OCR_MAX_REGIONS} regions per page.`,
  input: imageInput,
  output: {
    type: 'object',
    additionalProperties: false,
    required: ['lines', 'text'],
    properties: {
      lines: {
        type: 'array',
        maxItems: OCR_MAX_REGIONS,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['text', 'confidence', 'box', 'angle'],
          properties: {
            text: { type: 'string', description: 'The text of the line, trimmed.' },
            confidence: { type: 'number', minimum: 0, maximum: 1, description: 'Mean per-character probability.' },
            box: { type: 'array', items: point, minItems: 4, maxItems: 4, description: 'Corners [x, y] in image pixels: top-left, top-right, bottom-right, bottom-left.' },
            angle: { enum: [0, 180], description: 'The line was upside down (180) and was turned before reading.' },
          },
        },
      },
      text: { type: 'string', description: 'The lines joined with newlines.' },
    },
  },
  price: { units: 1, unitType: 'image' },
  nodes: [
    { id: 'decode', op: 'image.decode', params: { maxPixels: 16_000_000 }, inputs: { image: '$input.image' } },
    { id: 'det_tensor', op: 'image.to_tensor', params: PPOCR_DET_TENSOR, inputs: { image: 'decode' } },
    { id: 'detect', op: 'model.run', params: { model: 'ppocr-det', version: '1' }, inputs: { x: 'det_tensor' } },
    {
      id: 'boxes',
      op: 'text.detect_boxes',
      params: { threshold: 0.3, boxThreshold: 0.6, minSize: 3, unclipRatio: 2, maxRegions: OCR_MAX_REGIONS },
      inputs: { map: 'detect', image: 'decode' },
    },
    { id: 'crops', op: 'image.crop_regions', params: { verticalRatio: 1.5 }, inputs: { image: 'decode', boxes: 'boxes' } },
    {
      id: 'read',
      op: 'list.map',
      params: {
        maxItems: OCR_MAX_REGIONS,
        concurrency: 16,
        graph: {
          nodes: [
            { id: 'cls_tensor', op: 'image.to_tensor', params: { height: 48, fixedWidth: 192, overflow: 'crop', ...PPOCR_LINE_TENSOR }, inputs: { image: '$item' } },
            { id: 'classify', op: 'model.run', params: { model: 'ppocr-cls', version: '1' }, inputs: { x: 'cls_tensor' } },
            { id: 'orientation', op: 'classify.top1', params: { labels: [0, 180], key: 'angle', threshold: 0.9, fallback: 0 }, inputs: { probs: 'classify' } },
            { id: 'upright', op: 'image.rotate', inputs: { image: '$item', angle: 'orientation.angle' } },
            { id: 'rec_tensor', op: 'image.to_tensor', params: { height: 48, maxWidth: 1280, widthMultiple: 8, ...PPOCR_LINE_TENSOR }, inputs: { image: 'upright' } },
            { id: 'recognise', op: 'model.run', params: { model: 'ppocr-rec', version: '1' }, inputs: { x: 'rec_tensor' } },
            { id: 'text', op: 'ctc.greedy_decode', params: { dictionary: { model: 'ppocr-rec', version: '1', asset: 'dictionary' } }, inputs: { probs: 'recognise' } },
            { id: 'line', op: 'object.build', inputs: { text: 'text.text', confidence: 'text.confidence', angle: 'orientation.angle' } },
          ],
          output: 'line',
        },
      },
      inputs: { items: 'crops' },
    },
    { id: 'lines', op: 'ocr.lines', params: { minConfidence: 0.5 }, inputs: { boxes: 'boxes', reads: 'read' } },
  ],
  outputNode: 'lines',
};

export interface FeatureCatalogue {
  list(): FeatureDefinition[];
  find(name: string, version?: string): FeatureDefinition | undefined;
}

/** Validates every definition (graph, ops, params, schemas, unique name@version) and indexes them. */
export function createFeatureCatalogue(defs: readonly FeatureDefinition[], ops: OpSpecs = OP_SPECS): FeatureCatalogue {
  const seen = new Set<string>();
  for (const def of defs) {
    validateFeatureDefinition(def, ops);
    const key = `${def.name}@${def.version}`;
    if (seen.has(key)) throw new FeatureDefinitionError(key, ['defined twice']);
    seen.add(key);
  }
  const sorted = [...defs].sort((a, b) => (a.name === b.name ? compareVersions(a.version, b.version) : a.name < b.name ? -1 : 1));
  return {
    list: () => [...sorted],
    find(name, version) {
      const matches = sorted.filter((d) => d.name === name && (version === undefined || d.version === version));
      return matches.at(-1);
    },
  };
}

/** The features Stratum sells. */
export const FEATURES: readonly FeatureDefinition[] = Object.freeze([OCR_LINE_V1, IMAGE_ORIENTATION_V1, OCR_V1]);

const catalogue = createFeatureCatalogue(FEATURES);

/** A feature by name, at the given version or the latest one. */
export function findFeature(name: string, version?: string): FeatureDefinition | undefined {
  return catalogue.find(name, version);
}

/** Every feature version, by name then version. */
export function listFeatures(): FeatureDefinition[] {
  return catalogue.list();
}

/** The models a feature calls (for routing it to its worker pool). */
export function featureModels(def: FeatureDefinition, ops: OpSpecs = OP_SPECS): ModelRef[] {
  const refs: ModelRef[] = [];
  for (const node of def.nodes) {
    for (const ref of ops.get(node.op)?.models?.(node.params ?? {}, ops) ?? []) {
      if (!refs.some((r) => r.name === ref.name && r.version === ref.version)) refs.push(ref);
    }
  }
  return refs;
}

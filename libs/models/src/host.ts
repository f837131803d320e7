/**
 * OnnxModelHost: keeps warm onnxruntime-node sessions for a set of models and runs
 * them on neutral TensorData. Pure (no Nest, no metrics library): the worker wraps
 * it and feeds Prometheus through the optional observer.
 */
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ProblemError } from '#libs/errors';
import type { ModelEntry, WarmupSpec } from './repository.js';
import { fileDigest } from './signature.js';
import { elementCount, modelKey, TENSOR_DTYPES, type ModelRef, type ModelRunner, type ModelSignature, type TensorData, type TensorDType, type TensorSpec } from './tensor.js';

export type ExecutionProvider = 'cuda' | 'tensorrt' | 'cpu';

export interface LoadOptions {
  /** Preferred providers, best first. CPU is always the last resort. */
  executionProviders: ExecutionProvider[];
  /** Default intra-op threads (a model's `config.intraOpThreads` wins). */
  intraOpThreads: number;
  /** Let onnxruntime's thread pools spin between runs (faster back-to-back runs, a busy core when idle). Default false. */
  allowSpinning?: boolean;
  log?: (msg: string) => void;
}

export interface HostObserver {
  /** Called after every successful inference with its wall time and batch size. */
  onInference?(ref: ModelRef, ms: number, batchSize: number): void;
  /** Called once per load attempt, when the model is ready or has failed (status tells which). */
  onLoaded?(status: ModelStatus): void;
}

export interface ModelStatus extends ModelRef {
  pool: string;
  ready: boolean;
  /** The provider the session actually got (after any fallback). */
  provider: ExecutionProvider | null;
  /** Providers that were asked for and could not be used, with the reason. */
  providerFallbacks: { provider: ExecutionProvider; error: string }[];
  loadMs: number | null;
  warmupMs: number | null;
  sha256: string | null;
  sizeBytes: number | null;
  signature: ModelSignature | null;
  error: string | null;
}

interface Entry {
  model: ModelEntry;
  status: ModelStatus;
  session: InferenceSession | null;
  loading: Promise<ModelStatus> | null;
}

/** Provider lists to try, in order: each preferred provider with CPU behind it, then CPU alone. */
export function providerAttempts(preferred: readonly ExecutionProvider[]): ExecutionProvider[][] {
  const order = [...new Set(preferred.filter((p) => p !== 'cpu'))];
  const attempts: ExecutionProvider[][] = [];
  for (let i = 0; i < order.length; i++) attempts.push([...order.slice(i), 'cpu']);
  attempts.push(['cpu']);
  return attempts;
}

function specOf(meta: InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) return { name: meta.name, dtype: 'non-tensor', shape: [] };
  return {
    name: meta.name,
    dtype: meta.type,
    shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : null)),
  };
}

function toOrt(name: string, t: TensorData): Tensor {
  const size = t.dims.reduce((n, d) => n * d, 1);
  if (t.data.length !== size) {
    throw new ProblemError('invalid_input', `Tensor "${name}" has ${t.data.length} values for dims [${t.dims.join(',')}] (${size} expected)`);
  }
  switch (t.dtype) {
    case 'float32':
      return new ort.Tensor('float32', t.data as Float32Array, t.dims);
    case 'int64':
      return new ort.Tensor('int64', t.data as BigInt64Array, t.dims);
    case 'int32':
      return new ort.Tensor('int32', t.data as Int32Array, t.dims);
    case 'uint8':
      return new ort.Tensor('uint8', t.data as Uint8Array, t.dims);
    case 'bool':
      return new ort.Tensor('bool', t.data as Uint8Array, t.dims);
  }
}

function fromOrt(name: string, t: Tensor): TensorData {
  const dtype = t.type as string;
  if (!(TENSOR_DTYPES as readonly string[]).includes(dtype)) {
    throw new ProblemError('internal_error', `Model output "${name}" has unsupported type ${dtype}`);
  }
  const data = t.data as TensorData['data'];
  return { dtype: dtype as TensorDType, dims: [...t.dims], data: dtype === 'bool' ? Uint8Array.from(data as Uint8Array) : data };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class OnnxModelHost implements ModelRunner {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly observer: HostObserver = {}) {}

  /**
   * Loads a model: sha256 + size of the artifact, a session on the best available
   * provider (falling back towards CPU), its signature, a warm-up run; only then ready.
   * Loading an already loaded model returns its status.
   */
  async load(model: ModelEntry, opts: LoadOptions): Promise<ModelStatus> {
    const key = modelKey(model);
    const existing = this.entries.get(key);
    if (existing?.loading) return existing.loading;
    if (existing?.status.ready) return { ...existing.status };
    const entry: Entry = {
      model,
      session: null,
      loading: null,
      status: {
        name: model.name,
        version: model.version,
        pool: model.pool,
        ready: false,
        provider: null,
        providerFallbacks: [],
        loadMs: null,
        warmupMs: null,
        sha256: null,
        sizeBytes: null,
        signature: null,
        error: null,
      },
    };
    this.entries.set(key, entry);
    entry.loading = this.doLoad(entry, opts).finally(() => {
      entry.loading = null;
    });
    return entry.loading;
  }

  private async doLoad(entry: Entry, opts: LoadOptions): Promise<ModelStatus> {
    const { model, status } = entry;
    const log = opts.log ?? (() => undefined);
    const key = modelKey(model);
    const started = performance.now();
    try {
      await stat(model.artifactPath);
      const digest = await fileDigest(model.artifactPath);
      status.sha256 = digest.sha256;
      status.sizeBytes = digest.sizeBytes;

      const threads = model.config.intraOpThreads ?? opts.intraOpThreads;
      let session: InferenceSession | null = null;
      const preferred = [...(model.config.executionProviders ?? []), ...opts.executionProviders];
      for (const attempt of providerAttempts(preferred)) {
        try {
          session = await ort.InferenceSession.create(model.artifactPath, {
            executionProviders: attempt,
            intraOpNumThreads: threads,
            graphOptimizationLevel: model.config.graphOptimizationLevel,
            enableCpuMemArena: model.config.enableMemArena,
            // Spinning thread pools burn a core between runs; a worker's runs come with gaps
            // (queue, database), so by default its threads sleep instead (measured: CPU per
            // recognition run 44 ms -> 26 ms at the same throughput).
            extra: { session: { intra_op: { allow_spinning: opts.allowSpinning ? '1' : '0' }, inter_op: { allow_spinning: opts.allowSpinning ? '1' : '0' } } },
          });
          status.provider = attempt[0] ?? 'cpu';
          break;
        } catch (e) {
          const first = attempt[0] ?? 'cpu';
          if (first === 'cpu') throw e;
          status.providerFallbacks.push({ provider: first, error: message(e) });
          log(`model ${key}: execution provider ${first} unavailable (${message(e)}); trying the next one`);
        }
      }
      if (!session) throw new Error('no execution provider could create a session');
      entry.session = session;
      status.signature = {
        inputs: session.inputMetadata.map(specOf),
        outputs: session.outputMetadata.map(specOf),
      };
      status.loadMs = round(performance.now() - started);

      const warmStarted = performance.now();
      const feeds: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(warmupFeeds(model.config.warmup, status.signature))) feeds[name] = toOrt(name, t);
      await session.run(feeds);
      status.warmupMs = round(performance.now() - warmStarted);
      status.ready = true;
      log(
        `model ${key} ready on ${status.provider} (load ${status.loadMs} ms, warm-up ${status.warmupMs} ms, ` +
          `${status.sizeBytes} bytes, sha256 ${status.sha256?.slice(0, 12)}…)`,
      );
      this.observer.onLoaded?.({ ...status });
      return { ...status };
    } catch (e) {
      status.error = message(e);
      status.ready = false;
      if (entry.session) await entry.session.release().catch(() => undefined);
      entry.session = null;
      log(`model ${key} failed to load: ${status.error}`);
      this.observer.onLoaded?.({ ...status });
      throw new ProblemError('model_unavailable', `Model ${key} failed to load: ${status.error}`, { cause: e });
    }
  }

  /** Runs a ready model. Unknown or not-ready models give a 503 `model_unavailable`. */
  async run(ref: ModelRef, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const key = modelKey(ref);
    const entry = this.entries.get(key);
    if (!entry || !entry.session || !entry.status.ready) {
      throw new ProblemError('model_unavailable', entry ? `Model ${key} is not ready` : `Model ${key} is not loaded on this host`, {
        headers: { 'Retry-After': '5' },
      });
    }
    const signature = entry.status.signature;
    const ortFeeds: Record<string, Tensor> = {};
    for (const spec of signature?.inputs ?? []) {
      const t = feeds[spec.name];
      if (!t) throw new ProblemError('invalid_input', `Model ${key} needs input "${spec.name}"`);
      ortFeeds[spec.name] = toOrt(spec.name, t);
    }
    const started = performance.now();
    const results = await entry.session.run(ortFeeds);
    const ms = performance.now() - started;
    const out: Record<string, TensorData> = {};
    for (const [name, value] of Object.entries(results)) out[name] = fromOrt(name, value);
    const first = Object.values(feeds)[0];
    this.observer.onInference?.({ name: ref.name, version: ref.version }, ms, first?.dims[0] ?? 1);
    return out;
  }

  /** Per-model status, in load order. */
  status(): ModelStatus[] {
    return [...this.entries.values()].map((e) => ({ ...e.status, providerFallbacks: [...e.status.providerFallbacks] }));
  }

  /** Marks a model as refused without loading it (e.g. the registry holds other bytes for its version). */
  refuse(model: ModelEntry, reason: string): ModelStatus {
    const status: ModelStatus = {
      name: model.name,
      version: model.version,
      pool: model.pool,
      ready: false,
      provider: null,
      providerFallbacks: [],
      loadMs: null,
      warmupMs: null,
      sha256: null,
      sizeBytes: null,
      signature: null,
      error: reason,
    };
    if (this.entries.has(modelKey(model))) return { ...status, ...this.entries.get(modelKey(model))?.status };
    this.entries.set(modelKey(model), { model, status, session: null, loading: null });
    this.observer.onLoaded?.({ ...status });
    return { ...status };
  }

  /** Forgets a model and frees its session (e.g. an LRU of on-demand models); false when it was not held. */
  async unload(ref: ModelRef): Promise<boolean> {
    const key = modelKey(ref);
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    if (entry.loading) await entry.loading.catch(() => undefined);
    if (entry.session) await entry.session.release().catch(() => undefined);
    entry.session = null;
    return true;
  }

  /** True when at least one model is loaded and every loaded model is ready. */
  isReady(): boolean {
    const all = [...this.entries.values()];
    return all.length > 0 && all.every((e) => e.status.ready);
  }

  async close(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const e of entries) {
      if (e.loading) await e.loading.catch(() => undefined);
    }
    await Promise.all(entries.map(async (e) => (e.session ? e.session.release() : undefined)));
  }
}

function zeros(dtype: TensorDType, size: number, value: number): TensorData['data'] {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size).fill(value);
    case 'int64':
      return new BigInt64Array(size).fill(BigInt(Math.trunc(value)));
    case 'int32':
      return new Int32Array(size).fill(Math.trunc(value));
    case 'uint8':
    case 'bool':
      return new Uint8Array(size).fill(Math.trunc(value));
  }
}

/**
 * Warm-up feeds: the explicit tensors of the config, or ("auto") zeros for every input of
 * the signature with each dynamic dimension set to 1.
 */
export function warmupFeeds(spec: WarmupSpec, signature: ModelSignature | null): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const input of signature?.inputs ?? []) {
    const explicit = spec === 'auto' ? undefined : spec[input.name];
    const dtype = (explicit?.dtype ?? input.dtype) as TensorDType;
    if (!(TENSOR_DTYPES as readonly string[]).includes(dtype)) throw new Error(`warm-up: input "${input.name}" has type ${input.dtype}, which auto warm-up cannot build`);
    const dims = explicit?.dims ?? input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    feeds[input.name] = { dtype, dims, data: zeros(dtype, elementCount(dims), explicit?.value ?? 0) };
  }
  if (spec !== 'auto') {
    const unknown = Object.keys(spec).filter((n) => !signature?.inputs.some((i) => i.name === n));
    if (unknown.length) throw new Error(`warm-up names input(s) the model does not have: ${unknown.join(', ')}`);
  }
  return feeds;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * OnnxModelHost: keeps warm onnxruntime-node sessions for a set of models and runs
 * them on neutral TensorData, on the calling thread. Pure (no Nest, no metrics library):
 * the worker wraps a host and feeds Prometheus through the optional observer.
 * `ThreadedModelHost` (threaded-host.ts) has the same API and runs each session in a
 * worker thread, off the event loop; both share session-core.ts.
 */
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { InferenceSession } from 'onnxruntime-node';
import { ProblemError } from '#infra/errors';
import type { ModelEntry } from '#model-service/model-format';
import type { ExecutionProvider } from '#infra/execution-providers';
import { checkFeeds, errorMessage, openSession, roundMs, runSession, sessionSettings, warmUp, type LoadOptions } from './session-core.js';
import { fileDigest } from '#model-service/model-format';
import { modelKey, type ModelRef, type ModelRunner, type ModelSignature, type TensorData } from '#model-service/tensors';

export { providerAttempts, warmupFeeds, type LoadOptions } from './session-core.js';

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

/** What a worker needs from a model host: the in-process `OnnxModelHost` or `ThreadedModelHost`. */
export interface ModelHost extends ModelRunner {
  /**
   * Loads a model: sha256 + size of the artifact, a session on the best available
   * provider (falling back towards CPU), its signature, a warm-up run; only then ready.
   * Loading an already loaded model returns its status.
   */
  load(model: ModelEntry, opts: LoadOptions): Promise<ModelStatus>;
  /** Runs a ready model. Unknown or not-ready models give a 503 `model_unavailable`. */
  run(ref: ModelRef, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
  /** Per-model status, in load order. */
  status(): ModelStatus[];
  /** Marks a model as refused without loading it (e.g. the registry holds other bytes for its version). */
  refuse(model: ModelEntry, reason: string): ModelStatus;
  /** Forgets a model and frees its session (e.g. an LRU of on-demand models); false when it was not held. */
  unload(ref: ModelRef): Promise<boolean>;
  /** True when at least one model is loaded and every loaded model is ready. */
  isReady(): boolean;
  close(): Promise<void>;
}

/** The status of a model before (or instead of) a load. */
export function initialStatus(model: ModelEntry, error: string | null = null): ModelStatus {
  return {
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
    error,
  };
}

/** A copy of a status (callers may keep it; the host goes on updating its own). */
export function copyStatus(s: ModelStatus): ModelStatus {
  return { ...s, providerFallbacks: [...s.providerFallbacks] };
}

export function notReady(key: string, held: boolean): ProblemError {
  return new ProblemError('model_unavailable', held ? `Model ${key} is not ready` : `Model ${key} is not loaded on this host`, { headers: { 'Retry-After': '5' } });
}

interface Entry {
  model: ModelEntry;
  status: ModelStatus;
  session: InferenceSession | null;
  loading: Promise<ModelStatus> | null;
}

class InProcessModelHost implements ModelHost {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly observer: HostObserver = {}) {}

  async load(model: ModelEntry, opts: LoadOptions): Promise<ModelStatus> {
    const key = modelKey(model);
    const existing = this.entries.get(key);
    if (existing?.loading) return existing.loading;
    if (existing?.status.ready) return { ...existing.status };
    const entry: Entry = { model, session: null, loading: null, status: initialStatus(model) };
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
      const settings = sessionSettings(key, model, opts);
      const opened = await openSession(settings, log);
      entry.session = opened.session;
      const loadMs = performance.now() - started;
      const warmupMs = await warmUp(opened.session, settings.warmup, opened.signature);
      return markReady(key, status, { ...opened, loadMs, warmupMs }, log, this.observer);
    } catch (e) {
      status.error = errorMessage(e);
      status.ready = false;
      if (entry.session) await entry.session.release().catch(() => undefined);
      entry.session = null;
      log(`model ${key} failed to load: ${status.error}`);
      this.observer.onLoaded?.({ ...status });
      throw new ProblemError('model_unavailable', `Model ${key} failed to load: ${status.error}`, { cause: e });
    }
  }

  async run(ref: ModelRef, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const key = modelKey(ref);
    const entry = this.entries.get(key);
    if (!entry || !entry.session || !entry.status.ready) throw notReady(key, entry !== undefined);
    const { outputs, ms } = await runSession(entry.session, checkFeeds(key, entry.status.signature, feeds));
    const first = Object.values(feeds)[0];
    this.observer.onInference?.({ name: ref.name, version: ref.version }, ms, first?.dims[0] ?? 1);
    return outputs;
  }

  status(): ModelStatus[] {
    return [...this.entries.values()].map((e) => copyStatus(e.status));
  }

  refuse(model: ModelEntry, reason: string): ModelStatus {
    const status = initialStatus(model, reason);
    if (this.entries.has(modelKey(model))) return { ...status, ...this.entries.get(modelKey(model))?.status };
    this.entries.set(modelKey(model), { model, status, session: null, loading: null });
    this.observer.onLoaded?.({ ...status });
    return { ...status };
  }

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

/** A session that has passed its warm-up: record what it got, log it, tell the observer. */
export function markReady(
  key: string,
  status: ModelStatus,
  got: Pick<ModelStatus, 'provider' | 'providerFallbacks' | 'signature'> & { loadMs: number; warmupMs: number },
  log: (msg: string) => void,
  observer: HostObserver,
): ModelStatus {
  status.provider = got.provider;
  status.providerFallbacks = got.providerFallbacks;
  status.signature = got.signature;
  status.loadMs = roundMs(got.loadMs);
  status.warmupMs = roundMs(got.warmupMs);
  status.ready = true;
  status.error = null;
  log(readyLine(key, status));
  observer.onLoaded?.({ ...status });
  return { ...status };
}

export function readyLine(key: string, status: ModelStatus): string {
  return (
    `model ${key} ready on ${status.provider} (load ${status.loadMs} ms, warm-up ${status.warmupMs} ms, ` +
    `${status.sizeBytes} bytes, sha256 ${status.sha256?.slice(0, 12)}…)`
  );
}

/**
 * `new OnnxModelHost(observer)` is the in-process host: sessions run on the calling thread
 * (tests, benchmarks' raw loops, the gateway-side pipeline tests). As a type, `OnnxModelHost`
 * is any host (`ModelHost`), so code typed with it accepts a `ThreadedModelHost` too.
 */
export const OnnxModelHost: new (observer?: HostObserver) => ModelHost = InProcessModelHost;
export type OnnxModelHost = ModelHost;

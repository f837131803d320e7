import { ProblemError } from '#infra/errors';
import { PLATFORM_NAMESPACE, poolMarker, TENANT_POOL, type WarmRef } from '#model-service/model-registry';
import { artifactPath } from '#model-service/model-uploads';
import { fileDigest, type GraphOptimizationLevel, type ModelConfig, type ModelEntry } from '#model-service/model-format';
import { modelKey, type ModelRef } from '#model-service/tensors';
import type { LoadOptions, ModelStatus, OnnxModelHost } from '#model-service/runtime';
import type { TensorJobModel } from '#infra/queue';

export interface ModelsReadiness {
  ready: boolean;
  loading: string[];
  failed: { model: string; error: string }[];
}

/**
 * The model versions one worker serves, loaded once each into the host, one after the
 * other in the background. A version is ready only after its warm-up inference succeeded;
 * a version that fails (or that the registry refused) stays unavailable without stopping
 * the others.
 */
export class WorkerModels {
  private readonly settled = new Set<string>();
  /** Uploaded versions held by the host, least recently used first (Map keeps insertion order). */
  private readonly tenant = new Map<string, { ref: ModelRef; inflight: number; loading: Promise<void> | null }>();
  private readonly uploadedEntries = new Map<string, ModelEntry>();

  constructor(
    private readonly host: OnnxModelHost,
    readonly entries: readonly ModelEntry[],
    private readonly opts: LoadOptions,
    /** Set when this worker serves the tenant pool: uploaded versions load on demand from the storage directory. */
    private readonly uploads: TenantModelOptions | null = null,
  ) {}

  /**
   * The host ref to run a tensor job's model with, held until `release()`. A platform
   * version is loaded at start-up; an uploaded one is loaded on its first job (sha256
   * checked against the registry's), kept in a bounded LRU, and a load failure fails only
   * this job (503 model_unavailable, retried, possibly on another worker).
   */
  async acquire(model: TensorJobModel): Promise<{ ref: ModelRef; release: () => void }> {
    if (model.namespace === PLATFORM_NAMESPACE) return { ref: { name: model.name, version: model.version }, release: () => undefined };
    if (!this.uploads) throw new ProblemError('model_unavailable', `This worker does not serve uploaded models (pool ${TENANT_POOL}).`);
    const ref = uploadedRef(model);
    const key = modelKey(ref);
    let held = this.tenant.get(key);
    if (held) {
      this.tenant.delete(key);
      this.tenant.set(key, held); // most recently used
    } else {
      held = { ref, inflight: 0, loading: null };
      this.tenant.set(key, held);
      const entry = held;
      held.loading = this.loadUploaded(model, ref).finally(() => (entry.loading = null));
    }
    held.inflight++;
    try {
      if (held.loading) await held.loading;
    } catch (e) {
      held.inflight--;
      if (this.tenant.get(key) === held) {
        this.tenant.delete(key);
        this.uploadedEntries.delete(key);
      }
      await this.host.unload(ref);
      throw e;
    }
    await this.evict();
    const lease = held;
    let released = false;
    return {
      ref,
      release: () => {
        if (!released) lease.inflight--;
        released = true;
      },
    };
  }

  private async loadUploaded(model: TensorJobModel, ref: ModelRef): Promise<void> {
    const uploads = this.uploads!;
    let path: string;
    try {
      path = artifactPath(model.artifactUri, uploads.storageDir);
    } catch (e) {
      throw new ProblemError('model_unavailable', `Model ${modelKey(model)}: ${e instanceof Error ? e.message : String(e)}`);
    }
    let digest: { sha256: string };
    try {
      digest = await fileDigest(path);
    } catch {
      throw new ProblemError('model_unavailable', `Model ${modelKey(model)}: its artifact is not in this worker's model storage (${uploads.storageDir}).`);
    }
    if (digest.sha256 !== model.sha256) {
      throw new ProblemError('model_unavailable', `Model ${modelKey(model)}: the stored artifact's sha256 differs from the registered one; refusing to serve it.`);
    }
    const entry = uploadedEntry(ref, path, model);
    this.uploadedEntries.set(modelKey(ref), entry);
    await this.host.load(entry, this.opts);
  }

  /** The entry (config, batching policy) of an uploaded version this worker holds. */
  uploadedEntry(ref: ModelRef): ModelEntry | undefined {
    return this.tenant.has(modelKey(ref)) ? this.uploadedEntries.get(modelKey(ref)) : undefined;
  }

  /** Frees the least recently used uploaded versions past the bound (never one that is running a job). */
  private async evict(): Promise<void> {
    const max = this.uploads?.maxModels ?? 0;
    for (const [key, held] of this.tenant) {
      if (this.tenant.size <= max) return;
      if (held.inflight > 0 || held.loading) continue;
      this.tenant.delete(key);
      this.uploadedEntries.delete(key);
      await this.host.unload(held.ref);
    }
  }

  /** Uploaded versions currently held (LRU order, oldest first). */
  heldUploads(): string[] {
    return [...this.tenant.keys()];
  }

  /** Loads the given versions (all by default); `refused` maps `name@version` to the reason not to load it. */
  async load(entries: readonly ModelEntry[] = this.entries, refused: ReadonlyMap<string, string> = new Map()): Promise<ModelStatus[]> {
    const out: ModelStatus[] = [];
    for (const entry of entries) {
      const key = modelKey(entry);
      const reason = refused.get(key);
      try {
        out.push(reason !== undefined ? this.host.refuse(entry, reason) : await this.host.load(entry, this.opts));
      } catch {
        const s = this.host.status().find((x) => modelKey(x) === key);
        if (s) out.push(s);
      } finally {
        this.settled.add(key);
      }
    }
    return out;
  }

  /** Ready when every version is warm; otherwise what is still loading and what failed. */
  readiness(): ModelsReadiness {
    const status = new Map(this.host.status().map((s) => [modelKey(s), s]));
    const loading: string[] = [];
    const failed: { model: string; error: string }[] = [];
    for (const e of this.entries) {
      const key = modelKey(e);
      const s = status.get(key);
      if (s?.ready) continue;
      if (this.settled.has(key) && s?.error) failed.push({ model: key, error: s.error });
      else loading.push(key);
    }
    // A tenant-pool worker serves uploads on demand: it is ready with no platform model at all.
    return { ready: (this.entries.length > 0 || this.uploads !== null) && !loading.length && !failed.length, loading, failed };
  }

  /**
   * The versions that answered their warm-up and can serve, with the namespace of uploaded
   * ones, plus the tenant pool's marker when this worker loads uploads on demand.
   */
  readyRefs(): WarmRef[] {
    const refs: WarmRef[] = this.host
      .status()
      .filter((s) => s.ready)
      .map((s) => {
        const slash = s.name.indexOf('/');
        return slash < 0 ? { name: s.name, version: s.version } : { namespace: s.name.slice(0, slash), name: s.name.slice(slash + 1), version: s.version };
      });
    if (this.uploads) refs.push(poolMarker(TENANT_POOL));
    return refs;
  }
}

export interface TenantModelOptions {
  /** MODEL_STORAGE_DIR: the shared volume every worker mounts. */
  storageDir: string;
  /** Uploaded versions kept loaded at most (least recently used are freed). */
  maxModels: number;
}

/**
 * The host's name for an uploaded version: `<orgId>/<name>`. Model names cannot contain
 * "/", so it never collides with a platform model or another organization's.
 */
export function uploadedRef(model: Pick<TensorJobModel, 'namespace' | 'name' | 'version'>): ModelRef {
  return { name: `${model.namespace}/${model.name}`, version: model.version };
}

const LEVELS: readonly GraphOptimizationLevel[] = ['disabled', 'basic', 'extended', 'all'];

function uploadedEntry(ref: ModelRef, path: string, model: TensorJobModel): ModelEntry {
  const c = model.config ?? {};
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const level = typeof c.graph_optimization_level === 'string' && (LEVELS as readonly string[]).includes(c.graph_optimization_level) ? (c.graph_optimization_level as GraphOptimizationLevel) : 'all';
  const config: ModelConfig = {
    maxBatchSize: num(c.max_batch_size, 1),
    maxQueueDelayMs: num(c.max_queue_delay_ms, 2),
    intraOpThreads: num(c.intra_op_threads, 1),
    graphOptimizationLevel: level,
    enableMemArena: c.enable_mem_arena !== false,
    warmup: 'auto',
  };
  return { ...ref, pool: TENANT_POOL, description: '', artifactPath: path, artifactUri: model.artifactUri, config };
}

/** The /readyz message for a readiness that is not ready. */
export function readinessMessage(r: ModelsReadiness): string {
  const parts: string[] = [];
  if (r.loading.length) parts.push(`loading: ${r.loading.join(', ')}`);
  if (r.failed.length) parts.push(`failed: ${r.failed.map((f) => `${f.model} (${f.error.replace(/\s+/g, ' ').trim()})`).join('; ')}`);
  return parts.join('; ') || 'no models';
}

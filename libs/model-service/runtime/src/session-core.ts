/**
 * The onnxruntime parts both hosts share (the in-process `OnnxModelHost` and the session
 * threads of `ThreadedModelHost`): session options from a model's config, the CUDA→CPU
 * provider fallback, the signature a session reports, warm-up feeds, and the conversion
 * between neutral TensorData and onnxruntime tensors. No Nest, no worker_threads.
 */
import ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ProblemError } from '#infra/errors';
import type { GraphOptimizationLevel, ModelEntry, WarmupSpec } from '#model-service/model-format';
import { elementCount, TENSOR_DTYPES, type ModelSignature, type TensorData, type TensorDType, type TensorSpec } from '#model-service/tensors';

import type { ExecutionProvider } from '#infra/execution-providers';

export interface LoadOptions {
  /** Preferred providers, best first. CPU is always the last resort. */
  executionProviders: ExecutionProvider[];
  /** Default intra-op threads (a model's `config.intraOpThreads` wins). */
  intraOpThreads: number;
  /** Let onnxruntime's thread pools spin between runs (faster back-to-back runs, a busy core when idle). Default false. */
  allowSpinning?: boolean;
  log?: (msg: string) => void;
}

/** Everything a session needs from a model entry and the load options: plain data (it crosses to session threads). */
export interface SessionSettings {
  /** `name@version`, for log lines. */
  key: string;
  artifactPath: string;
  /** Providers in preference order (the model's first, then the host's). */
  preferred: ExecutionProvider[];
  intraOpThreads: number;
  graphOptimizationLevel: GraphOptimizationLevel;
  enableMemArena: boolean;
  allowSpinning: boolean;
  warmup: WarmupSpec;
}

export function sessionSettings(key: string, model: ModelEntry, opts: LoadOptions): SessionSettings {
  return {
    key,
    artifactPath: model.artifactPath,
    preferred: [...(model.config.executionProviders ?? []), ...opts.executionProviders],
    intraOpThreads: model.config.intraOpThreads ?? opts.intraOpThreads,
    graphOptimizationLevel: model.config.graphOptimizationLevel,
    enableMemArena: model.config.enableMemArena,
    allowSpinning: opts.allowSpinning ?? false,
    warmup: model.config.warmup,
  };
}

/** Provider lists to try, in order: each preferred provider with CPU behind it, then CPU alone. */
export function providerAttempts(preferred: readonly ExecutionProvider[]): ExecutionProvider[][] {
  const order = [...new Set(preferred.filter((p) => p !== 'cpu'))];
  const attempts: ExecutionProvider[][] = [];
  for (let i = 0; i < order.length; i++) attempts.push([...order.slice(i), 'cpu']);
  attempts.push(['cpu']);
  return attempts;
}

export interface OpenedSession {
  session: InferenceSession;
  /** The provider the session actually got. */
  provider: ExecutionProvider;
  providerFallbacks: { provider: ExecutionProvider; error: string }[];
  signature: ModelSignature;
}

/** Creates a session on the best available provider, falling back towards CPU and saying so through `log`. */
export async function openSession(s: SessionSettings, log: (msg: string) => void): Promise<OpenedSession> {
  const providerFallbacks: OpenedSession['providerFallbacks'] = [];
  const spin = s.allowSpinning ? '1' : '0';
  for (const attempt of providerAttempts(s.preferred)) {
    const first = attempt[0] ?? 'cpu';
    try {
      const session = await ort.InferenceSession.create(s.artifactPath, {
        executionProviders: attempt,
        intraOpNumThreads: s.intraOpThreads,
        graphOptimizationLevel: s.graphOptimizationLevel,
        enableCpuMemArena: s.enableMemArena,
        // Spinning thread pools burn a core between runs; a worker's runs come with gaps
        // (queue, database), so by default its threads sleep instead (measured: CPU per
        // recognition run 44 ms -> 26 ms at the same throughput).
        extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
      });
      return { session, provider: first, providerFallbacks, signature: signatureOf(session) };
    } catch (e) {
      if (first === 'cpu') throw e;
      providerFallbacks.push({ provider: first, error: errorMessage(e) });
      log(`model ${s.key}: execution provider ${first} unavailable (${errorMessage(e)}); trying the next one`);
    }
  }
  throw new Error('no execution provider could create a session');
}

function specOf(meta: InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) return { name: meta.name, dtype: 'non-tensor', shape: [] };
  return {
    name: meta.name,
    dtype: meta.type,
    shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : null)),
  };
}

export function signatureOf(session: InferenceSession): ModelSignature {
  return { inputs: session.inputMetadata.map(specOf), outputs: session.outputMetadata.map(specOf) };
}

/**
 * The feeds a run needs, in signature order: each input present and holding as many values
 * as its dims say (400 `invalid_input` otherwise). Extra feeds are ignored.
 */
export function checkFeeds(key: string, signature: ModelSignature | null, feeds: Record<string, TensorData>): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const spec of signature?.inputs ?? []) {
    const t = feeds[spec.name];
    if (!t) throw new ProblemError('invalid_input', `Model ${key} needs input "${spec.name}"`);
    const size = elementCount(t.dims);
    if (t.data.length !== size) {
      throw new ProblemError('invalid_input', `Tensor "${spec.name}" has ${t.data.length} values for dims [${t.dims.join(',')}] (${size} expected)`);
    }
    out[spec.name] = t;
  }
  return out;
}

function toOrt(t: TensorData): Tensor {
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

/** One `session.run` on checked feeds (see checkFeeds), outputs as TensorData, with its wall time. */
export async function runSession(session: InferenceSession, feeds: Record<string, TensorData>): Promise<{ outputs: Record<string, TensorData>; ms: number }> {
  const ortFeeds: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
  const started = performance.now();
  const results = await session.run(ortFeeds);
  const ms = performance.now() - started;
  const outputs: Record<string, TensorData> = {};
  for (const [name, value] of Object.entries(results)) outputs[name] = fromOrt(name, value);
  return { outputs, ms };
}

/** The warm-up run gating readiness; resolves with its wall time. */
export async function warmUp(session: InferenceSession, spec: WarmupSpec, signature: ModelSignature): Promise<number> {
  const started = performance.now();
  const feeds: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(warmupFeeds(spec, signature))) feeds[name] = toOrt(t);
  await session.run(feeds);
  return performance.now() - started;
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

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

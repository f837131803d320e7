/**
 * ThreadedModelHost: the `OnnxModelHost` API with every session in its own worker thread
 * (one thread per loaded model version, session-thread.ts), so a running model never blocks
 * the owner's event loop: queue work, lock renewals, /healthz and /metrics go on while it
 * computes, and queue work and model work overlap on two cores.
 *
 * - Inputs are copied to the thread (the caller owns them and may reuse them); outputs are
 *   transferred back (the thread owns them), not copied.
 * - A thread that dies (uncaught error, JS heap past `resourceLimits`, `terminate()`) fails
 *   its calls in flight at once with 503 `model_unavailable` naming the cause, and is
 *   restarted in the background (a fresh thread, load + warm-up) unless it died
 *   `maxRestarts` times in a row without a successful run in between; a later `load()`
 *   starts it afresh in any case. It never takes the process down — except a native crash
 *   (SIGSEGV, abort()) inside onnxruntime, which no thread can contain (see DECISIONS.md).
 * - `unload()` terminates the thread: the session's memory goes with it.
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { ProblemError, type ProblemCode, PROBLEM_CODES } from '#infra/errors';
import { copyStatus, initialStatus, markReady, notReady, type HostObserver, type ModelHost, type ModelStatus } from './host.js';
import type { ModelEntry } from '#model-service/model-format';
import { checkFeeds, errorMessage, sessionSettings, type LoadOptions } from './session-core.js';
import type { FromThread, ThreadError, ToThread } from './session-protocol.js';
import { fileDigest } from '#model-service/model-format';
import { modelKey, type ModelRef, type TensorData } from '#model-service/tensors';

/** The compiled thread script (dist/…/session-thread.js), next to this module at run time. */
export function sessionThreadScript(): string {
  const here = fileURLToPath(import.meta.url);
  // Under Jest this module is the .ts source; the thread always runs the compiled file (`npm run build`).
  return here.replace(/\/libs\/model-service\/runtime\/src\/threaded-host\.(ts|js)$/, '/dist/libs/model-service/runtime/src/session-thread.js').replace('/dist/dist/', '/dist/');
}

export interface ThreadedHostOptions {
  /** The thread script (default: the compiled session-thread.js). Tests point it at wrappers. */
  script?: string;
  /** V8 heap limits of each session thread (onnxruntime's own buffers are native memory, outside them). */
  resourceLimits?: ResourceLimits;
  /** Background restarts after consecutive crashes (with no successful run in between). Default 3; 0 disables. */
  maxRestarts?: number;
  /** Called when a session thread has exited (unload, close, crash), with its thread id. */
  onThreadExit?(key: string, threadId: number): void;
}

interface Pending {
  resolve: (msg: FromThread) => void;
  reject: (e: Error) => void;
  /** Resolves once the call has an answer (either way). */
  settled: Promise<unknown>;
}

/** How long stop() waits for a thread to finish its current run and exit. */
const STOP_DEADLINE_MS = 60_000;

/** One session thread and the calls it has not answered yet. */
class SessionThread {
  readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lastError: Error | null = null;
  private exitRequested = false;
  /** Set once the thread is gone (or going): the reason calls fail with. */
  dead: string | null = null;
  readonly exited: Promise<void>;

  constructor(
    script: string,
    resourceLimits: ResourceLimits | undefined,
    private readonly key: string,
    private readonly log: (msg: string) => void,
    private readonly onDeath: (reason: string) => void,
  ) {
    this.worker = new Worker(script, { resourceLimits, name: `ort ${key}` });
    this.worker.on('message', (msg: FromThread) => this.receive(msg));
    this.worker.on('error', (e: Error) => {
      this.lastError = e;
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        const reason = this.lastError ? `${this.lastError.message}${'code' in this.lastError ? ` (${String(this.lastError.code)})` : ''}` : `exit code ${code}`;
        this.die(this.dead ?? `its session thread stopped: ${reason}`);
        resolve();
      });
    });
  }

  private receive(msg: FromThread): void {
    if (msg.op === 'log') {
      this.log(msg.msg);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.op === 'error') p.reject(fromThreadError(msg.error));
    else p.resolve(msg);
  }

  /** Sends a request; resolves with the thread's answer, rejects with its error or when the thread dies. */
  call(msg: ToThread, transfer: ArrayBuffer[] = []): Promise<FromThread> {
    if (this.dead) return Promise.reject(unavailable(this.key, this.dead));
    let pending!: Pending;
    const answer = new Promise<FromThread>((resolve, reject) => {
      pending = { resolve, reject, settled: Promise.resolve() };
    });
    pending.settled = answer.catch(() => undefined);
    this.pending.set(msg.id, pending);
    try {
      this.worker.postMessage(msg, transfer);
    } catch (e) {
      this.pending.delete(msg.id);
      pending.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return answer;
  }

  id(): number {
    return this.nextId++;
  }

  /** Fails every call in flight with `reason`; later calls fail at once. */
  private die(reason: string): void {
    const first = this.dead === null;
    this.dead = reason;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(unavailable(this.key, reason));
    if (first) this.onDeath(reason);
  }

  /**
   * Stops the thread on purpose. `failPending`: calls in flight fail with `reason` now
   * (otherwise they finish first). The thread is never `terminate()`d: terminating it while
   * onnxruntime's native `run` is on its stack aborts the whole process (seen with 1.30:
   * "terminate called after throwing an instance of 'Napi::Error'"). It is asked to release
   * its session and exit, which it does once its current run has returned; past
   * `STOP_DEADLINE_MS` it is left to finish on its own (unref'd: it does not hold the process).
   */
  async stop(reason: string, failPending: boolean): Promise<void> {
    if (!failPending) await Promise.allSettled([...this.pending.values()].map((p) => p.settled));
    if (this.dead === null) this.die(reason);
    if (!this.exitRequested) {
      this.exitRequested = true;
      this.worker.postMessage({ op: 'exit', id: 0 } satisfies ToThread);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_DEADLINE_MS)));
    const gaveUp = await Promise.race([this.exited.then(() => false), late]);
    clearTimeout(timer);
    if (gaveUp) {
      this.log(`model ${this.key}: its session thread has not stopped after ${STOP_DEADLINE_MS} ms (a native run still going); leaving it to finish`);
      this.worker.unref();
    }
  }
}

function unavailable(key: string, reason: string): ProblemError {
  return new ProblemError('model_unavailable', `Model ${key}: ${reason}; the call did not complete`, { headers: { 'Retry-After': '5' } });
}

function fromThreadError(e: ThreadError): Error {
  if (e.problemCode && e.problemCode in PROBLEM_CODES) return new ProblemError(e.problemCode as ProblemCode, e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

interface Entry {
  model: ModelEntry;
  opts: LoadOptions;
  status: ModelStatus;
  thread: SessionThread | null;
  loading: Promise<ModelStatus> | null;
  /** Deaths since the last successful run. */
  crashes: number;
}

export class ThreadedModelHost implements ModelHost {
  private readonly entries = new Map<string, Entry>();
  private readonly script: string;
  private readonly maxRestarts: number;
  private closed = false;

  constructor(
    private readonly observer: HostObserver = {},
    private readonly options: ThreadedHostOptions = {},
  ) {
    this.script = options.script ?? sessionThreadScript();
    this.maxRestarts = options.maxRestarts ?? 3;
  }

  async load(model: ModelEntry, opts: LoadOptions): Promise<ModelStatus> {
    const key = modelKey(model);
    const existing = this.entries.get(key);
    if (existing?.loading) return existing.loading;
    if (existing?.status.ready) return { ...existing.status };
    if (existing?.thread) await existing.thread.stop('the model is being reloaded', true);
    const entry: Entry = { model, opts, status: initialStatus(model), thread: null, loading: null, crashes: existing?.crashes ?? 0 };
    this.entries.set(key, entry);
    return this.startLoad(entry);
  }

  private startLoad(entry: Entry): Promise<ModelStatus> {
    const loading = this.doLoad(entry).finally(() => {
      if (entry.loading === loading) entry.loading = null;
    });
    entry.loading = loading;
    return loading;
  }

  private async doLoad(entry: Entry): Promise<ModelStatus> {
    const { model, status, opts } = entry;
    const log = opts.log ?? (() => undefined);
    const key = modelKey(model);
    const started = performance.now();
    let thread: SessionThread | null = null;
    try {
      await stat(model.artifactPath);
      const digest = await fileDigest(model.artifactPath);
      status.sha256 = digest.sha256;
      status.sizeBytes = digest.sizeBytes;
      if (this.closed || this.entries.get(key) !== entry) throw new Error('unloaded while loading');
      const t = new SessionThread(this.script, this.options.resourceLimits, key, log, (reason) => this.threadDied(entry, t, reason));
      const threadId = t.worker.threadId;
      void t.exited.then(() => this.options.onThreadExit?.(key, threadId));
      thread = t;
      entry.thread = t;
      const reply = await thread.call({ op: 'load', id: thread.id(), settings: sessionSettings(key, model, opts) });
      if (reply.op !== 'loaded') throw new Error(`unexpected answer ${reply.op} to load`);
      return markReady(key, status, { ...reply, loadMs: performance.now() - started - reply.warmupMs }, log, this.observer);
    } catch (e) {
      status.error = errorMessage(e);
      status.ready = false;
      entry.thread = null;
      if (thread) await thread.stop(`load failed: ${status.error}`, true);
      log(`model ${key} failed to load: ${status.error}`);
      this.observer.onLoaded?.({ ...status });
      throw new ProblemError('model_unavailable', `Model ${key} failed to load: ${status.error}`, { cause: e });
    }
  }

  /** A thread died unasked (crash, heap limit, terminate()): not ready; restart in the background if allowed. */
  private threadDied(entry: Entry, thread: SessionThread | null, reason: string): void {
    const key = modelKey(entry.model);
    if (entry.thread !== thread || this.entries.get(key) !== entry || !entry.status.ready) return;
    entry.thread = null;
    entry.status.ready = false;
    entry.status.error = reason;
    entry.crashes++;
    const log = entry.opts.log ?? (() => undefined);
    log(`model ${key}: ${reason}`);
    this.observer.onLoaded?.({ ...entry.status });
    if (this.closed || entry.crashes > this.maxRestarts) {
      if (!this.closed) log(`model ${key}: not restarted (${entry.crashes} crashes in a row); a new load() starts it again`);
      return;
    }
    log(`model ${key}: restarting its session thread (crash ${entry.crashes} of at most ${this.maxRestarts} in a row)`);
    const fresh: Entry = { ...entry, status: initialStatus(entry.model), thread: null, loading: null };
    this.entries.set(key, fresh);
    this.startLoad(fresh).catch(() => undefined); // the failure is in the status (and the observer saw it)
  }

  async run(ref: ModelRef, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const key = modelKey(ref);
    const entry = this.entries.get(key);
    const thread = entry?.thread;
    if (!entry || !thread || !entry.status.ready) throw notReady(key, entry !== undefined);
    const checked = checkFeeds(key, entry.status.signature, feeds);
    const reply = await thread.call({ op: 'run', id: thread.id(), feeds: checked });
    if (reply.op !== 'result') throw new Error(`unexpected answer ${reply.op} to run`);
    entry.crashes = 0;
    const first = Object.values(feeds)[0];
    this.observer.onInference?.({ name: ref.name, version: ref.version }, reply.ms, first?.dims[0] ?? 1);
    return reply.outputs;
  }

  status(): ModelStatus[] {
    return [...this.entries.values()].map((e) => copyStatus(e.status));
  }

  refuse(model: ModelEntry, reason: string): ModelStatus {
    const status = initialStatus(model, reason);
    const key = modelKey(model);
    const held = this.entries.get(key);
    if (held) return { ...status, ...held.status };
    this.entries.set(key, { model, opts: { executionProviders: [], intraOpThreads: 0 }, status, thread: null, loading: null, crashes: 0 });
    this.observer.onLoaded?.({ ...status });
    return { ...status };
  }

  /** Forgets a model and terminates its thread (its session's memory goes with it). */
  async unload(ref: ModelRef): Promise<boolean> {
    const key = modelKey(ref);
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    if (entry.loading) await entry.loading.catch(() => undefined);
    const thread = entry.thread;
    entry.thread = null;
    if (thread) await thread.stop('the model was unloaded', false);
    return true;
  }

  /**
   * Stops a model's thread as a crash would (e.g. a run far past its deadline): calls in
   * flight fail with `model_unavailable` now, and the host restarts it as after a crash.
   */
  async terminate(ref: ModelRef, reason = 'its session thread was terminated'): Promise<boolean> {
    const thread = this.entries.get(modelKey(ref))?.thread;
    if (!thread) return false;
    await thread.stop(reason, true);
    return true;
  }

  /** Thread ids of the live session threads, by model key (for tests and diagnostics). */
  threads(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, e] of this.entries) if (e.thread && !e.thread.dead) out[key] = e.thread.worker.threadId;
    return out;
  }

  isReady(): boolean {
    const all = [...this.entries.values()];
    return all.length > 0 && all.every((e) => e.status.ready);
  }

  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const e of entries) {
      if (e.loading) await e.loading.catch(() => undefined);
    }
    await Promise.all(entries.map(async (e) => e.thread?.stop('the host was closed', false)));
  }
}

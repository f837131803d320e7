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
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { ProblemError, type ProblemCode, PROBLEM_CODES } from '#infra/errors';
import { copyStatus, initialStatus, markReady, notReady, type HostObserver, type ModelHost, type ModelStatus } from './host.js';
import type { ModelEntry } from '#model-service/model-format';
import { checkFeeds, errorMessage, sessionSettings, type LoadOptions } from './session-core.js';
import type { FromThread, ThreadError, ToThread } from './session-protocol.js';
import { RunSlots } from './run-slots.js';
import { fileDigest } from '#model-service/model-format';
import { modelKey, type ModelRef, type TensorData } from '#model-service/tensors';

/** The compiled thread script (dist/…/session-thread.js), next to this module at run time. */
export function sessionThreadScript(): string {
  const here = fileURLToPath(import.meta.url);
  // Under Jest this module is the .ts source; the thread always runs the compiled file (`npm run build`).
  return here.replace(/\/libs\/model-service\/runtime\/src\/threaded-host\.(ts|js)$/, '/dist/libs/model-service/runtime/src/session-thread.js').replace('/dist/dist/', '/dist/');
}

/** The compiled session-process script (dist/…/session-process.js), for the isolated host. */
export function sessionProcessScript(): string {
  return sessionThreadScript().replace(/session-thread\.js$/, 'session-process.js');
}

/**
 * Isolation of uploaded (tenant) models: each session runs in its own child process instead
 * of a thread, started with an empty environment under an address-space limit, one run at a
 * time, each with a deadline. Past the deadline the child is killed (SIGKILL) and the run
 * fails with 422 `model_timeout`; an allocation past the limit fails it with 422
 * `model_memory_exceeded` (so do outputs over `maxOutputBytes`). The host restarts the child.
 */
export interface ProcessIsolation {
  /** Deadline of one run, from the moment it is sent to the child. */
  runDeadlineMs: number;
  /** RLIMIT_AS of each child (bytes), applied with `prlimit`; null: no limit (no prlimit on this machine). */
  addressSpaceBytes: number | null;
  /** Absolute path of util-linux's prlimit (the child's environment is empty: no PATH lookup). */
  prlimit: string | null;
  /** Largest total output of one run (bytes). */
  maxOutputBytes: number;
  /** The child script (default: the compiled session-process.js). */
  script?: string;
}

/** util-linux's prlimit where distributions put it (Debian, the Docker images: /usr/bin); null when absent. */
export function findPrlimit(candidates: readonly string[] = ['/usr/bin/prlimit', '/bin/prlimit', '/usr/sbin/prlimit']): string | null {
  return candidates.find((p) => existsSync(p)) ?? null;
}

/**
 * How the isolated host starts a session child: the command, its arguments and the
 * environment (empty: the child inherits no variable, so no secret). Pure, so tests check it.
 */
export function sessionProcessSpawn(iso: ProcessIsolation, execPath: string): { command: string; args: string[]; env: Record<string, string> } {
  const script = iso.script ?? sessionProcessScript();
  if (iso.prlimit && iso.addressSpaceBytes !== null) {
    return { command: iso.prlimit, args: [`--as=${iso.addressSpaceBytes}`, '--', execPath, script], env: {} };
  }
  return { command: execPath, args: [script], env: {} };
}

export interface ThreadedHostOptions {
  /** The thread script (default: the compiled session-thread.js). Tests point it at wrappers. */
  script?: string;
  /** V8 heap limits of each session thread (onnxruntime's own buffers are native memory, outside them). */
  resourceLimits?: ResourceLimits;
  /** Background restarts after consecutive crashes (with no successful run in between). Default 3; 0 disables. */
  maxRestarts?: number;
  /** Called when a session thread has exited (unload, close, crash), with its thread id (a child's pid when isolated). */
  onThreadExit?(key: string, threadId: number): void;
  /** Run every session in its own child process with a deadline and a memory limit (uploaded models). */
  isolation?: ProcessIsolation;
  /** At most this many runs at once across the host's sessions (run-slots.ts); unset: no limit. */
  maxConcurrentRuns?: number;
}

/** What a session thread or a session process looks like to its host. */
interface Channel {
  readonly kind: 'thread' | 'process';
  /** The worker thread's id or the child's pid. */
  readonly id: number;
  send(msg: ToThread, transfer: ArrayBuffer[]): void;
  onMessage(fn: (msg: FromThread) => void): void;
  onError(fn: (e: Error) => void): void;
  onExit(fn: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** Kills a child process at once (SIGKILL); threads cannot be (see SessionThread.stop). */
  kill(): boolean;
  unref(): void;
  /** The last lines a child wrote to stderr (since the last clearStderr). */
  stderrTail(): string;
  clearStderr(): void;
}

function threadChannel(script: string, resourceLimits: ResourceLimits | undefined, key: string): Channel {
  const worker = new Worker(script, { resourceLimits, name: `ort ${key}` });
  return {
    kind: 'thread',
    id: worker.threadId,
    send: (msg, transfer) => worker.postMessage(msg, transfer),
    onMessage: (fn) => worker.on('message', fn),
    onError: (fn) => worker.on('error', fn),
    onExit: (fn) => worker.once('exit', (code) => fn(code, null)),
    kill: () => false,
    unref: () => worker.unref(),
    stderrTail: () => '',
    clearStderr: () => undefined,
  };
}

function processChannel(iso: ProcessIsolation): Channel {
  const how = sessionProcessSpawn(iso, process.execPath);
  const child: ChildProcess = spawn(how.command, how.args, { env: how.env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
  let tail = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (tail = (tail + d).slice(-4000)));
  return {
    kind: 'process',
    id: child.pid ?? -1,
    send: (msg) => {
      child.send(msg);
    },
    onMessage: (fn) => child.on('message', (m) => fn(m as FromThread)),
    onError: (fn) => child.on('error', fn),
    onExit: (fn) => child.once('exit', (code, signal) => fn(code, signal)),
    kill: () => child.kill('SIGKILL'),
    unref: () => {
      child.unref();
      child.channel?.unref();
    },
    stderrTail: () => tail,
    clearStderr: () => {
      tail = '';
    },
  };
}

interface Pending {
  resolve: (msg: FromThread) => void;
  reject: (e: Error) => void;
  /** Resolves once the call has an answer (either way). */
  settled: Promise<unknown>;
}

/** How long stop() waits for a thread to finish its current run and exit. */
const STOP_DEADLINE_MS = 60_000;
/** How long stop() waits for a session process to exit before killing it. */
const PROCESS_STOP_GRACE_MS = 2_000;

/** One session thread and the calls it has not answered yet. */
class SessionThread {
  readonly worker: Channel;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lastError: Error | null = null;
  private exitRequested = false;
  /** Isolated children run one call at a time: the tail of that queue. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Set when the host killed the child on purpose (a run past its deadline): what the call in flight fails with. */
  private killedWith: ProblemError | null = null;
  /** Set once the thread is gone (or going): the reason calls fail with. */
  dead: string | null = null;
  readonly exited: Promise<void>;

  constructor(
    channel: Channel,
    private readonly key: string,
    private readonly log: (msg: string) => void,
    private readonly onDeath: (reason: string, onPurpose: boolean) => void,
  ) {
    this.worker = channel;
    channel.onMessage((msg) => this.receive(msg));
    channel.onError((e: Error) => {
      this.lastError = e;
    });
    this.exited = new Promise((resolve) => {
      channel.onExit((code, signal) => {
        const reason = this.lastError ? `${this.lastError.message}${'code' in this.lastError ? ` (${String(this.lastError.code)})` : ''}` : signal ? `signal ${signal}` : `exit code ${code}`;
        this.die(this.dead ?? `its session ${channel.kind === 'thread' ? 'thread' : 'process'} stopped: ${reason}`, this.killedWith ?? deathProblem(this.key, signal, channel.stderrTail()));
        resolve();
      });
    });
  }

  /**
   * A call to an isolated child: one at a time, failing with `model_timeout` (and the child
   * killed) when it has not answered within `deadlineMs` of being sent.
   */
  callWithDeadline(msg: ToThread, deadlineMs: number): Promise<FromThread> {
    const run = this.turn.then(() => {
      if (this.dead) return Promise.reject(unavailable(this.key, this.dead));
      // A death is judged by what the child wrote during this run only (deathProblem).
      this.worker.clearStderr();
      const answer = this.call(msg);
      const timer = setTimeout(() => {
        if (this.killedWith || this.dead) return;
        this.killedWith = new ProblemError('model_timeout', `The model ran longer than its deadline of ${deadlineMs} ms; the run was stopped.`);
        this.worker.kill();
      }, deadlineMs);
      return answer.finally(() => clearTimeout(timer));
    });
    this.turn = run.catch(() => undefined);
    return run;
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
      this.worker.send(msg, transfer);
    } catch (e) {
      this.pending.delete(msg.id);
      pending.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return answer;
  }

  id(): number {
    return this.nextId++;
  }

  /** Fails every call in flight with `reason` (or `problem`); later calls fail at once. */
  private die(reason: string, problem: ProblemError | null = null): void {
    const first = this.dead === null;
    this.dead = reason;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(problem ?? unavailable(this.key, reason));
    if (first) this.onDeath(reason, this.killedWith !== null);
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
      try {
        this.worker.send({ op: 'exit', id: 0 } satisfies ToThread, []);
      } catch {
        this.worker.kill(); // the child's channel is already closed
      }
    }
    let timer: NodeJS.Timeout | undefined;
    // A child process can be killed safely: it gets a short grace, a thread the long one.
    const grace = this.worker.kind === 'process' ? PROCESS_STOP_GRACE_MS : STOP_DEADLINE_MS;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), grace)));
    const gaveUp = await Promise.race([this.exited.then(() => false), late]);
    clearTimeout(timer);
    if (gaveUp && this.worker.kind === 'process') {
      this.worker.kill();
      await this.exited;
    } else if (gaveUp) {
      this.log(`model ${this.key}: its session thread has not stopped after ${STOP_DEADLINE_MS} ms (a native run still going); leaving it to finish`);
      this.worker.unref();
    }
  }
}

/**
 * What a call in flight fails with when its isolated child died without being asked: an
 * abort or a V8 heap failure under the address-space limit is the model's memory; anything
 * else is a crash (503, retried). Threads never get here with a signal.
 */
export function deathProblem(key: string, signal: NodeJS.Signals | null, stderr: string): ProblemError | null {
  if (signal === 'SIGABRT' || signal === 'SIGTRAP' || /out of memory|bad_alloc|allocation failed|failed to allocate|cannot allocate memory/i.test(stderr)) {
    return new ProblemError('model_memory_exceeded', `Model ${key} needed more memory than it may use; the run was stopped.`);
  }
  return null;
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
    this.slots = options.maxConcurrentRuns !== undefined ? new RunSlots(options.maxConcurrentRuns) : null;
  }

  private readonly slots: RunSlots | null;

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
      const iso = this.options.isolation;
      const channel = iso ? processChannel(iso) : threadChannel(this.script, this.options.resourceLimits, key);
      const t = new SessionThread(channel, key, log, (reason, onPurpose) => this.threadDied(entry, t, reason, onPurpose));
      const threadId = t.worker.id;
      void t.exited.then(() => this.options.onThreadExit?.(key, threadId));
      thread = t;
      entry.thread = t;
      const load: ToThread = { op: 'load', id: thread.id(), settings: sessionSettings(key, model, opts), ...(iso ? { maxOutputBytes: iso.maxOutputBytes } : {}) };
      const reply = await thread.call(load);
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

  /**
   * A thread died unasked (crash, heap limit, terminate()) or an isolated child was killed for
   * its deadline (`onPurpose`: not counted as a crash): not ready; restart in the background if allowed.
   */
  private threadDied(entry: Entry, thread: SessionThread | null, reason: string, onPurpose = false): void {
    const key = modelKey(entry.model);
    if (entry.thread !== thread || this.entries.get(key) !== entry || !entry.status.ready) return;
    entry.thread = null;
    entry.status.ready = false;
    entry.status.error = reason;
    if (!onPurpose) entry.crashes++;
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
    const msg: ToThread = { op: 'run', id: thread.id(), feeds: checked };
    const iso = this.options.isolation;
    const call = () => (iso ? thread.callWithDeadline(msg, iso.runDeadlineMs) : thread.call(msg));
    const reply = this.slots ? await this.slots.with(call) : await call();
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
    for (const [key, e] of this.entries) if (e.thread && !e.thread.dead) out[key] = e.thread.worker.id;
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

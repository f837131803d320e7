import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createLinePrefixer, nextAttempt, restartDelay } from './policy.js';

/** What to run for one named child: `node [nodeArgs…] <entry> [args…]` with exactly `env`. */
export interface ChildSpec {
  readonly entry: string;
  readonly args?: readonly string[];
  readonly nodeArgs?: readonly string[];
  /** The child's whole environment (nothing is inherited implicitly). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Restart after an unexpected exit (default true). */
  readonly restart?: boolean;
  /**
   * Run the child in its own process group (default true), so a terminal's Ctrl-C reaches
   * only the supervising process, which then stops children in order (and does not mistake
   * their SIGINT exit for a crash).
   */
  readonly ownProcessGroup?: boolean;
}

export type ChildState = 'running' | 'backoff' | 'stopping' | 'stopped';

export interface ChildStatus {
  readonly name: string;
  readonly state: ChildState;
  readonly pid: number | undefined;
  readonly restarts: number;
}

export interface ChildExit {
  readonly name: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Delay before the restart, or undefined when the child will not be restarted. */
  readonly restartInMs: number | undefined;
}

export interface SupervisorOptions {
  /** Receives every output line, already prefixed with `[name]` (default: this process's stdout). */
  readonly output?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Backoff policy; defaults to `restartDelay`. */
  readonly restartDelay?: (attempt: number) => number;
  /** A child that ran this long before crashing restarts with the shortest delay again. */
  readonly stableAfterMs?: number;
  /** The node binary (default: the one running this process). */
  readonly execPath?: string;
}

interface Entry {
  readonly name: string;
  readonly spec: ChildSpec;
  child: ChildProcess | undefined;
  state: ChildState;
  attempt: number;
  restarts: number;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
  exited: Promise<void>;
}

/**
 * Runs named node child processes: forwards their output line by line with a `[name]`
 * prefix, restarts a crashed child with exponential backoff, lets children be added and
 * removed at run time, and stops everything with SIGTERM then SIGKILL.
 *
 * Events: `spawn` (name, pid), `exit` (ChildExit).
 */
export class ProcessSupervisor extends EventEmitter {
  private readonly entries = new Map<string, Entry>();
  private readonly output: (line: string, stream: 'stdout' | 'stderr') => void;
  private readonly delay: (attempt: number) => number;
  private readonly stableAfterMs: number;
  private readonly execPath: string;
  private stopping = false;

  constructor(options: SupervisorOptions = {}) {
    super();
    this.output = options.output ?? ((line, stream) => (stream === 'stderr' ? process.stderr : process.stdout).write(line + '\n'));
    this.delay = options.restartDelay ?? ((attempt) => restartDelay(attempt));
    this.stableAfterMs = options.stableAfterMs ?? 10_000;
    this.execPath = options.execPath ?? process.execPath;
  }

  /** Starts a new child under `name` (names are unique). */
  add(name: string, spec: ChildSpec): void {
    if (this.stopping) throw new Error(`supervisor is stopping; cannot add "${name}"`);
    if (this.entries.has(name)) throw new Error(`a child named "${name}" already exists`);
    const entry: Entry = { name, spec, child: undefined, state: 'stopped', attempt: 0, restarts: 0, startedAt: 0, timer: undefined, exited: Promise.resolve() };
    this.entries.set(name, entry);
    this.launch(entry);
  }

  /** Stops the child `name` (SIGTERM, then SIGKILL after timeoutMs) and forgets it. */
  async remove(name: string, timeoutMs = 5_000): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`no child named "${name}"`);
    await this.stopEntry(entry, timeoutMs);
    this.entries.delete(name);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  status(): ChildStatus[] {
    return [...this.entries.values()].map((e) => ({ name: e.name, state: e.state, pid: e.child?.pid, restarts: e.restarts }));
  }

  /** Stops every child: SIGTERM to all at once, SIGKILL to those still alive after timeoutMs. */
  async stopAll(timeoutMs = 5_000): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.entries.values()].map((e) => this.stopEntry(e, timeoutMs)));
    this.entries.clear();
  }

  private launch(entry: Entry): void {
    entry.timer = undefined;
    const { spec } = entry;
    const child = spawn(this.execPath, [...(spec.nodeArgs ?? []), spec.entry, ...(spec.args ?? [])], {
      env: withoutUndefined(spec.env),
      cwd: spec.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: spec.ownProcessGroup ?? true,
    });
    entry.child = child;
    entry.state = 'running';
    entry.startedAt = Date.now();
    const prefix = `[${entry.name}]`;
    const out = createLinePrefixer(prefix, (line) => this.output(line, 'stdout'));
    const err = createLinePrefixer(prefix, (line) => this.output(line, 'stderr'));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
    entry.exited = new Promise<void>((resolve) => {
      child.once('close', (code, signal) => {
        out.flush();
        err.flush();
        this.onExit(entry, child, code, signal);
        resolve();
      });
    });
    child.once('error', (error) => {
      // spawn failure (e.g. missing node binary): 'close' still follows.
      this.output(`${prefix} failed to start: ${error.message}`, 'stderr');
    });
    if (child.pid !== undefined) this.emit('spawn', entry.name, child.pid);
  }

  private onExit(entry: Entry, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (entry.child !== child) return;
    entry.child = undefined;
    const wanted = entry.state === 'stopping' || this.stopping || entry.spec.restart === false;
    if (wanted) {
      entry.state = 'stopped';
      this.emit('exit', { name: entry.name, code, signal, restartInMs: undefined } satisfies ChildExit);
      return;
    }
    entry.attempt = nextAttempt(entry.attempt, Date.now() - entry.startedAt, this.stableAfterMs);
    const delay = this.delay(entry.attempt);
    entry.state = 'backoff';
    const how = signal ? `signal ${signal}` : `code ${code ?? '?'}`;
    this.output(`[${entry.name}] exited with ${how}; restarting in ${delay} ms`, 'stderr');
    entry.timer = setTimeout(() => {
      entry.restarts++;
      this.launch(entry);
    }, delay);
    this.emit('exit', { name: entry.name, code, signal, restartInMs: delay } satisfies ChildExit);
  }

  private async stopEntry(entry: Entry, timeoutMs: number): Promise<void> {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    const child = entry.child;
    if (!child || entry.state === 'stopped') {
      entry.state = 'stopped';
      return;
    }
    entry.state = 'stopping';
    const exited = entry.exited;
    child.kill('SIGTERM');
    let killTimer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      killTimer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([exited.then(() => 'exited' as const), timedOut]);
    clearTimeout(killTimer);
    if (result === 'timeout') {
      this.output(`[${entry.name}] did not stop within ${timeoutMs} ms; sending SIGKILL`, 'stderr');
      child.kill('SIGKILL');
      await exited;
    }
  }
}

function withoutUndefined(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

// What several benchmarks share: wrk runs and their parsing, the server process's CPU time, the
// median, and a seeded PRNG for arrival traces.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  rps: number;
  /** Latency percentiles in ms (wrk `--latency`). */
  p50: number;
  p99: number;
  /** Requests wrk completed. */
  requests: number;
  /** Non-2xx/3xx answers. */
  non2xx: number;
  /** Non-2xx/3xx answers plus socket errors. */
  errors: number;
}

/** wrk's durations ("812.00us", "1.20ms", "2.01s") in milliseconds. */
function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`unreadable wrk duration ${text}`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(m[1]) * scale;
}

/** One wrk run (one thread: the machine has 2 cores); `script` is a Lua file (method, body, headers). */
export async function wrk(url: string, o: { connections: number; seconds: number; headers?: string[]; script?: string; pin?: Pinning }): Promise<WrkResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency', ...(o.headers ?? []).flatMap((h) => ['-H', h]), ...(o.script ? ['-s', o.script] : []), url];
  const { stdout } = await (o.pin ? run('taskset', ['-c', o.pin.load, 'wrk', ...args], { maxBuffer: 1 << 20 }) : run('wrk', args, { maxBuffer: 1 << 20 }));
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const total = /(\d+) requests in/.exec(stdout);
  const p50 = /^\s+50%\s+(\S+)/m.exec(stdout);
  const p99 = /^\s+99%\s+(\S+)/m.exec(stdout);
  if (!rps || !total || !p50 || !p99) throw new Error(`unreadable wrk output:\n${stdout}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps: Number(rps[1]), p50: ms(p50[1]!), p99: ms(p99[1]!), requests: Number(total[1]), non2xx, errors };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux
/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime (fields 14 and 15)
}

/** Deterministic PRNG (mulberry32): uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Where the processes of a throughput comparison run: the servers measured on the last core, the
 * load generator on the others, the same for every side. On a 2-core machine that keeps wrk and
 * the server off each other's core (unpinned, the scheduler mixes them differently from run to run
 * and requests/s scatter by 2x). Null with one core or without `taskset`.
 */
export interface Pinning {
  /** taskset's CPU list for the servers ("1"). */
  server: string;
  /** taskset's CPU list for the load generator ("0"). */
  load: string;
}

export async function pinning(): Promise<Pinning | null> {
  const cores = availableParallelism();
  if (cores < 2) return null;
  const present = await run('taskset', ['-c', '0', 'true']).then(
    () => true,
    () => false,
  );
  return present ? { server: String(cores - 1), load: cores === 2 ? '0' : `0-${cores - 2}` } : null;
}

/** The command and arguments that start `command args` on the pinned server core (unchanged without pinning; taskset execs, so the pid is the server's). */
export function pinnedCommand(pin: Pinning | null, command: string, args: string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', pin.server, command, ...args]] : [command, args];
}

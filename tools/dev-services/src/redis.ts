import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { endpointOf, isLoopback, redactUrl } from './endpoint.js';

export interface RedisHandle {
  /** `external`: a Redis answered; `spawned`: we started redis-server. */
  readonly kind: 'external' | 'spawned';
  readonly url: string;
  readonly pid: number | undefined;
  /** Stops what we started (SIGTERM, SIGKILL after timeoutMs). Idempotent. */
  close(timeoutMs?: number): Promise<void>;
}

export interface EnsureRedisOptions {
  /** Working directory for a spawned redis-server (default `.stratum/redis` under the cwd). */
  readonly dir?: string;
  /** Program to spawn (default `redis-server`, looked up on PATH). */
  readonly command?: string;
  readonly pingTimeoutMs?: number;
  /** How long a spawned server may take to answer PING (default 5000 ms). */
  readonly startTimeoutMs?: number;
  readonly log?: (message: string) => void;
}

export const REDIS_HOWTO =
  'Start one with `docker compose up -d redis`, or install it: `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), then run `npm start` again.';

/**
 * Sends `PING` over a raw socket and resolves true when anything speaking RESP answers
 * (`+PONG`, or an error such as `-NOAUTH`, which still proves a Redis is there).
 */
export function pingRedis(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data: Buffer) => {
      const reply = data.toString('latin1');
      done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH') || reply.startsWith('-WRONGPASS'));
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

async function waitForPing(host: string, port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}) before answering`);
    if (await pingRedis(host, port, 500)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis-server did not answer PING on ${host}:${port} within ${timeoutMs} ms`);
}

function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Makes sure a Redis answers at `url`: uses one that answers PING; otherwise, on a loopback
 * address, starts `redis-server` (no persistence) on the URL's port; otherwise throws an
 * error that says how to get one.
 */
export async function ensureRedis(url: string, options: EnsureRedisOptions = {}): Promise<RedisHandle> {
  const log = options.log ?? (() => {});
  const { host, port } = endpointOf(url);
  if (await pingRedis(host, port, options.pingTimeoutMs ?? 1_000)) {
    log(`redis: using the server at ${redactUrl(url)}`);
    return { kind: 'external', url, pid: undefined, close: async () => {} };
  }
  if (!isLoopback(host)) throw new Error(`No Redis answers at ${redactUrl(url)}. Check REDIS_URL. ${REDIS_HOWTO}`);
  const dir = options.dir ?? '.stratum/redis';
  await mkdir(dir, { recursive: true });
  const command = options.command ?? 'redis-server';
  const child = spawn(command, ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true, // own process group: a terminal's Ctrl-C reaches only our process, which stops it last
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)));
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (e) => resolve(e));
  });
  if (spawned) {
    if ((spawned as { code?: string }).code === 'ENOENT') {
      throw new Error(`No Redis answers at ${redactUrl(url)} and \`${command}\` is not installed. ${REDIS_HOWTO}`);
    }
    throw new Error(`No Redis answers at ${redactUrl(url)} and starting \`${command}\` failed: ${spawned.message}. ${REDIS_HOWTO}`);
  }
  try {
    await waitForPing(host, port, child, options.startTimeoutMs ?? 5_000);
  } catch (e) {
    await stopChild(child, 1_000);
    throw new Error(`${(e as Error).message}${stderr ? `\n${stderr.trim()}` : ''}`, { cause: e });
  }
  log(`redis: none answered at ${host}:${port}; started redis-server (pid ${child.pid})`);
  let closing: Promise<void> | undefined;
  return { kind: 'spawned', url, pid: child.pid, close: (timeoutMs = 3_000) => (closing ??= stopChild(child, timeoutMs)) };
}

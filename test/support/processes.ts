// Starts Stratum's apps as real child processes from dist/ (built by `npm test`), the way
// the start command does, and waits for their /readyz.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { inheritedEnv } from '#infra/config';
import { repoRoot } from '#infra/db';

export type AppName = 'gateway' | 'worker' | 'autoscaler';

export interface RunningApp {
  name: AppName;
  url: string;
  /** The admin listener: /metrics, /readyz with each check's details. */
  adminUrl: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code (or signal). */
  stop(): Promise<number | string | null>;
}

/**
 * Each Jest worker takes ports from a range of its own (20000 + 2500 per worker, below Linux's
 * ephemeral range), from a random start, never the same twice in a file: a port picked with
 * listen(0) and released could be picked again by a parallel file before its app bound it, and
 * an app of the other file (an admin listener answering /readyz) would then pass for this one.
 */
const PORT_RANGE = 2_500;
// Jest's own worker number, not configuration of Stratum.
// eslint-disable-next-line no-restricted-properties
const portBase = 20_000 + ((Number(process.env['JEST_WORKER_ID'] ?? '1') - 1) % 8) * PORT_RANGE;
let portOffset = Math.floor(Math.random() * PORT_RANGE);

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORT_RANGE; tries++) {
    const port = portBase + (portOffset++ % PORT_RANGE);
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port in ${portBase}-${portBase + PORT_RANGE - 1}`);
}

const PORT_VARIABLE: Record<AppName, string> = { gateway: 'GATEWAY_PORT', worker: 'WORKER_PORT', autoscaler: 'AUTOSCALER_PORT' };
const ADMIN_PORT_VARIABLE: Record<AppName, string> = { gateway: 'GATEWAY_ADMIN_PORT', worker: 'WORKER_ADMIN_PORT', autoscaler: 'AUTOSCALER_ADMIN_PORT' };

/** Polls `url` until it answers 200, the process exits, or the deadline passes. */
async function waitFor200(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${url} answered 200:\n${output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last}):\n${output()}`);
}

/** Waits until the app answers /healthz (alive), whether or not it is ready. */
export async function waitAlive(app: RunningApp, timeoutMs = 45_000): Promise<void> {
  await waitFor200(`${app.url}/healthz`, app.child, () => app.output(), timeoutMs);
}

/** `exactEnv`: the process gets `env` (and NO_COLOR, its port) only, nothing of the test runner's environment. */
export async function startApp(name: AppName, env: Record<string, string>, opts: { waitReady?: boolean; timeoutMs?: number; exactEnv?: boolean } = {}): Promise<RunningApp> {
  const port = env[PORT_VARIABLE[name]] ?? String(await freePort());
  const adminPort = env[ADMIN_PORT_VARIABLE[name]] ?? String(await freePort());
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'apps', name, 'src', 'main.js')], {
    env: { ...(opts.exactEnv ? {} : inheritedEnv()), NO_COLOR: '1', ...env, [PORT_VARIABLE[name]]: port, [ADMIN_PORT_VARIABLE[name]]: adminPort },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const url = `http://127.0.0.1:${port}`;
  const app: RunningApp = {
    name,
    url,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  if (opts.waitReady !== false) {
    try {
      await waitFor200(`${url}/readyz`, child, () => out, opts.timeoutMs ?? 60_000);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
  }
  return app;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Logger } from '@nestjs/common';
import { tenantWorkerEnv } from '#infra/config';
import { parseExposition } from '#infra/scaling';
import type { Actuator } from './actuator.js';

/** The built worker next to this file (dist/apps/worker/src/main.js). */
export const WORKER_ENTRY = fileURLToPath(new URL('../../worker/src/main.js', import.meta.url));

interface LocalWorker {
  readonly name: string;
  readonly pool: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminUrl: string;
  readonly startedAt: number;
  state: 'starting' | 'ready' | 'draining';
  exited: Promise<void>;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface LocalActuatorOptions {
  /** The environment every worker starts from (Stratum's variables); WORKER_POOLS and ports are set per worker. */
  env: Readonly<Record<string, string | undefined>>;
  host: string;
  adminHost: string;
  /** The tenant pool's name: its workers get the reduced environment (tenantWorkerEnv). */
  tenantPool: string;
  /** A worker told to stop gets this long (its drain deadline plus a margin) before SIGKILL. */
  stopTimeoutMs: number;
  entry?: string;
  output?: (line: string) => void;
}

/**
 * One machine: a worker process per unit of desired scale, `WORKER_POOLS=<pool>`, with ports
 * of its own. Scale-in sends SIGTERM (the worker drains: no new job, held ones finished or handed
 * back within WORKER_DRAIN_TIMEOUT_MS, exit 0) to idle workers first: the ones still starting,
 * then those whose `stratum_workers_busy` reads 0, newest first. A worker that exits on its own
 * leaves the count; the next decision starts another.
 */
export class LocalActuator implements Actuator {
  readonly kind = 'local';
  private readonly logger = new Logger('LocalActuator');
  private readonly workers = new Set<LocalWorker>();
  private seq = 0;

  constructor(private readonly opts: LocalActuatorOptions) {}

  /** Workers counted for a pool: starting or ready (not draining). */
  async current(pool: string): Promise<number> {
    return this.live(pool).length;
  }

  ready(pool: string): number {
    return this.live(pool).filter((w) => w.state === 'ready').length;
  }

  /** The admin /metrics URL of every worker alive (draining ones included: their jobs still count). */
  metricsTargets(): string[] {
    return [...this.workers].map((w) => `${w.adminUrl}/metrics`);
  }

  private live(pool: string): LocalWorker[] {
    return [...this.workers].filter((w) => w.pool === pool && w.state !== 'draining');
  }

  async apply(pool: string, desired: number): Promise<void> {
    const live = this.live(pool);
    if (desired > live.length) {
      for (let i = live.length; i < desired; i++) await this.start(pool);
    } else if (desired < live.length) {
      const victims = await this.chooseVictims(live, live.length - desired);
      for (const w of victims) this.stop(w);
    }
  }

  /** Idle first: starting workers, then ready ones whose busy gauge reads 0, then the rest; newest first within each. */
  async chooseVictims(live: readonly LocalWorker[], n: number): Promise<LocalWorker[]> {
    const busy = new Map(
      await Promise.all(
        live.map(async (w) => {
          if (w.state === 'starting') return [w, -1] as const;
          try {
            const res = await fetch(`${w.adminUrl}/metrics`, { signal: AbortSignal.timeout(1_000) });
            const v = parseExposition(await res.text()).find((s) => s.name === 'stratum_workers_busy' && s.labels['pool'] === w.pool)?.value;
            return [w, v ?? 1] as const;
          } catch {
            return [w, 1] as const;
          }
        }),
      ),
    );
    return [...live].sort((a, b) => busy.get(a)! - busy.get(b)! || b.startedAt - a.startedAt).slice(0, n);
  }

  private async start(pool: string): Promise<void> {
    const [port, adminPort] = [await freePort(this.opts.host), await freePort(this.opts.adminHost)];
    const name = `worker-${pool}-${++this.seq}`;
    const overrides = { WORKER_POOLS: pool, WORKER_PORT: String(port), WORKER_ADMIN_PORT: String(adminPort) };
    const env = pool === this.opts.tenantPool ? tenantWorkerEnv(this.opts.env, overrides) : { ...withoutUndefined(this.opts.env), ...overrides };
    const child = spawn(process.execPath, [this.opts.entry ?? WORKER_ENTRY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const host = (h: string): string => (h === '0.0.0.0' ? '127.0.0.1' : h);
    const w: LocalWorker = {
      name,
      pool,
      child,
      url: `http://${host(this.opts.host)}:${port}`,
      adminUrl: `http://${host(this.opts.adminHost)}:${adminPort}`,
      startedAt: Date.now(),
      state: 'starting',
      exited: new Promise<void>((resolve) => child.once('close', () => resolve())),
    };
    const out = this.opts.output ?? ((line: string) => void process.stdout.write(`${line}\n`));
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) out(`[${name}] ${l}`);
      });
    }
    child.once('close', (code, signal) => {
      this.workers.delete(w);
      const how = signal ? `signal ${signal}` : `code ${code ?? '?'}`;
      if (w.state === 'draining') this.logger.log(`${name} exited (${how}) after draining`);
      else this.logger.warn(`${name} exited unexpectedly (${how}); the next decision replaces it`);
    });
    this.workers.add(w);
    this.logger.log(`${name} starting (pid ${child.pid ?? '?'}, ${w.url})`);
    void this.watchReady(w);
  }

  private async watchReady(w: LocalWorker): Promise<void> {
    while (w.state === 'starting' && this.workers.has(w)) {
      try {
        const res = await fetch(`${w.url}/readyz`, { signal: AbortSignal.timeout(1_000) });
        await res.body?.cancel();
        if (res.status === 200 && w.state === 'starting') {
          w.state = 'ready';
          this.logger.log(`${w.name} ready after ${Date.now() - w.startedAt} ms`);
          return;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private stop(w: LocalWorker): void {
    w.state = 'draining';
    this.logger.log(`${w.name} draining (SIGTERM)`);
    w.child.kill('SIGTERM');
    const kill = setTimeout(() => {
      this.logger.warn(`${w.name} still running ${this.opts.stopTimeoutMs} ms after SIGTERM: SIGKILL (its held jobs come back after the lock expires)`);
      w.child.kill('SIGKILL');
    }, this.opts.stopTimeoutMs);
    kill.unref();
    void w.exited.then(() => clearTimeout(kill));
  }

  async close(): Promise<void> {
    const all = [...this.workers];
    for (const w of all) if (w.state !== 'draining') this.stop(w);
    await Promise.all(all.map((w) => w.exited));
  }
}

function withoutUndefined(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

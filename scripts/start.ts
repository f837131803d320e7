// `npm start`: one-machine Stratum. Ensures Postgres and Redis (embedded PGlite / spawned
// redis-server when none answers), migrates, seeds the demo tenant, runs gateway, one worker
// of the platform's pools, one worker of the tenant pool (uploaded models, with a reduced
// environment: no gateway secrets) and the autoscaler under the process supervisor, waits until each is ready, prints how to
// call the API, and stops everything cleanly on Ctrl-C / SIGTERM.
//
// Usage: node dist/scripts/start.js [--root <dir>]   (--root: the directory holding dist/,
// .stratum/ and examples/; defaults to the repository this file was built into).
import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AppConfig, ConfigError, inheritedEnv, readDevelopmentEnv, tenantWorkerEnv, type Env } from '#infra/config';
import { ensurePostgres, ensureRedis, type PostgresHandle, type RedisHandle } from '#tools/dev-services';
import { ProcessSupervisor, type ChildExit } from '#tools/supervisor';

const READY_TIMEOUT_MS = 120_000;
const SHUTDOWN_BUDGET_MS = 9_500;
const CHILD_STOP_TIMEOUT_MS = 8_000;

interface App {
  readonly name: string;
  readonly entry: string;
  readonly host: string;
  readonly port: number;
  /** The admin listener's port (/metrics, /readyz with details) on ADMIN_HOST. */
  readonly adminPort: number;
  readonly env: Record<string, string | undefined>;
}

const log = (message: string): void => void process.stdout.write(`[start] ${message}\n`);
const fail = (message: string): void => void process.stderr.write(`[start] ${message}\n`);

/** Where a client on this machine reaches a server bound to `host`. */
function reachable(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

/** The tenant pool's worker listens next to the autoscaler: WORKER_PORT + 2 (3003 by default). */
export function tenantWorkerPort(env: Env): number {
  return env.WORKER_PORT === 0 ? 0 : env.WORKER_PORT + 2;
}

/** Its admin listener (metrics, readiness details): WORKER_ADMIN_PORT + 2 (9467 by default). */
export function tenantWorkerAdminPort(env: Env): number {
  return env.WORKER_ADMIN_PORT === 0 ? 0 : env.WORKER_ADMIN_PORT + 2;
}

export function apps(root: string, env: Env, base: Record<string, string | undefined>): App[] {
  const entry = (app: string): string => join(root, 'dist', 'apps', app, 'src', 'main.js');
  const tenantPort = tenantWorkerPort(env);
  const tenantAdminPort = tenantWorkerAdminPort(env);
  // The platform pools' workers are the autoscaler's (local actuator: one process per worker,
  // started and drained as the backlog asks), unless AUTOSCALER_ACTUATOR says otherwise: then
  // one worker of every platform pool, as before.
  const local = (base['AUTOSCALER_ACTUATOR'] ?? 'local') === 'local';
  return [
    { name: 'gateway', entry: entry('gateway'), host: env.GATEWAY_HOST, port: env.GATEWAY_PORT, adminPort: env.GATEWAY_ADMIN_PORT, env: base },
    // WORKER_POOLS=all (the default): every platform pool, never the tenant pool.
    ...(local ? [] : [{ name: 'worker-1', entry: entry('worker'), host: env.WORKER_HOST, port: env.WORKER_PORT, adminPort: env.WORKER_ADMIN_PORT, env: base }]),
    // Tenants' uploaded models: a worker of their own, without the gateway's secrets or anything
    // else of this shell's environment but Stratum's variables and PATH (tenantWorkerEnv).
    {
      name: 'worker-tenant',
      entry: entry('worker'),
      host: env.WORKER_HOST,
      port: tenantPort,
      adminPort: tenantAdminPort,
      env: tenantWorkerEnv(base, { WORKER_POOLS: 'tenant', WORKER_PORT: String(tenantPort), WORKER_ADMIN_PORT: String(tenantAdminPort) }),
    },
    {
      name: 'autoscaler',
      entry: entry('autoscaler'),
      host: env.AUTOSCALER_HOST,
      port: env.AUTOSCALER_PORT,
      adminPort: env.AUTOSCALER_ADMIN_PORT,
      // Its workers drain within 3 s (jobs here take milliseconds): the whole stop fits npm start's shutdown budget.
      env: local ? { ...base, AUTOSCALER_ACTUATOR: 'local', WORKER_DRAIN_TIMEOUT_MS: base['WORKER_DRAIN_TIMEOUT_MS'] ?? '3000', AUTOSCALER_SCRAPE_TARGETS: base['AUTOSCALER_SCRAPE_TARGETS'] ?? `http://${reachable(env.ADMIN_HOST)}:${env.GATEWAY_ADMIN_PORT}/metrics` } : base,
    },
  ];
}

/** Runs a one-shot script under the supervisor (prefixed output) and resolves with its exit code. */
async function runOnce(sup: ProcessSupervisor, name: string, entry: string, env: Record<string, string | undefined>, cwd: string, args: readonly string[] = []): Promise<number> {
  if (!existsSync(entry)) throw new Error(`${relative(cwd, entry)} does not exist (has it been written and built? run \`node scripts/build.mjs\`)`);
  const exited = new Promise<ChildExit>((resolveExit) => {
    const onExit = (e: ChildExit): void => {
      if (e.name !== name) return;
      sup.off('exit', onExit);
      resolveExit(e);
    };
    sup.on('exit', onExit);
  });
  sup.add(name, { entry, args, env, cwd, restart: false });
  const result = await exited;
  await sup.remove(name);
  return result.code ?? 1;
}

async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Polls every app's /readyz until all answer 200; throws naming those that did not. */
async function waitReady(list: readonly App[], sup: ProcessSupervisor, timeoutMs: number, stopped: () => boolean): Promise<void> {
  const pending = new Set(list.map((a) => a.name));
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0 && Date.now() < deadline && !stopped()) {
    await Promise.all(
      list
        .filter((a) => pending.has(a.name))
        .map(async (a) => {
          if (await isReady(`http://${reachable(a.host)}:${a.port}/readyz`)) {
            pending.delete(a.name);
            log(`${a.name} is ready`);
          }
        }),
    );
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 300));
  }
  if (pending.size > 0 && !stopped()) {
    const states = new Map(sup.status().map((s) => [s.name, s]));
    const detail = list
      .filter((a) => pending.has(a.name))
      .map((a) => {
        const s = states.get(a.name);
        return `${a.name} (GET http://${reachable(a.host)}:${a.port}/readyz did not answer 200; process ${s?.state ?? 'gone'}, ${s?.restarts ?? 0} restart(s))`;
      });
    throw new Error(`not ready after ${Math.round(timeoutMs / 1000)} s: ${detail.join('; ')}. See the lines prefixed with their names above.`);
  }
}

/** The development credentials file the seed writes (and start passes it as `--credentials`). */
export function credentialsFile(root: string): string {
  return join(root, '.stratum', 'demo-keys.json');
}

export interface DemoKeys {
  live: string | undefined;
  test: string | undefined;
  /** The live `admin` + `predict` key of the quick start. */
  admin: string | undefined;
  owner: { email: string; password: string } | undefined;
  /** The demo organization's slug, as the seed wrote it. */
  org: string | undefined;
}

/** Reads a key from `{ live: "sk_…" }`, `{ live: { secret } }` or `{ keys: { live: { secret } } }`. */
function pickKey(doc: Record<string, unknown>, kind: 'live' | 'test' | 'admin'): string | undefined {
  const prefix = `sk_${kind === 'admin' ? 'live' : kind}_`;
  const candidates: unknown[] = [doc[kind], (doc.keys as Record<string, unknown> | undefined)?.[kind]];
  for (const c of candidates) {
    if (typeof c === 'string' && c.startsWith(prefix)) return c;
    const secret = (c as { secret?: unknown } | undefined)?.secret;
    if (typeof secret === 'string' && secret.startsWith(prefix)) return secret;
  }
  return undefined;
}

function pickOwner(doc: Record<string, unknown>): DemoKeys['owner'] {
  const owner = doc.owner as { email?: unknown; password?: unknown } | undefined;
  return typeof owner?.email === 'string' && typeof owner.password === 'string' ? { email: owner.email, password: owner.password } : undefined;
}

async function demoKeys(root: string): Promise<DemoKeys | undefined> {
  try {
    const parsed = JSON.parse(await readFile(credentialsFile(root), 'utf8')) as unknown;
    if (parsed && typeof parsed === 'object') {
      const doc = parsed as Record<string, unknown>;
      return { live: pickKey(doc, 'live'), test: pickKey(doc, 'test'), admin: pickKey(doc, 'admin'), owner: pickOwner(doc), org: typeof doc.org === 'string' ? doc.org : undefined };
    }
  } catch {
    // not written (yet): the banner says where keys come from instead
  }
  return undefined;
}

/** The lines the README's quick start asks to paste: STRATUM, KEY (test), ADMIN_KEY (live admin + predict), ORG. */
export function exportLines(api: string, keys: DemoKeys | undefined): string[] {
  const lines = [`export STRATUM=${api}`];
  if (keys?.test) lines.push(`export KEY=${keys.test}`);
  if (keys?.admin) lines.push(`export ADMIN_KEY=${keys.admin}`);
  if (keys?.org) lines.push(`export ORG=${keys.org}`);
  return lines;
}

export function banner(root: string, env: Env, list: readonly App[], keys: DemoKeys | undefined, pg: PostgresHandle, redis: RedisHandle): string {
  const api = new AppConfig(env).publicBaseUrl;
  const image = relative(process.cwd(), join(root, 'examples', 'hello.png')) || 'examples/hello.png';
  const testKey = keys?.test ?? 'sk_test_…';
  const body = `{\\"feature\\":\\"ocr-line\\",\\"input\\":{\\"image\\":\\"$(base64 -w0 ${image})\\"}}`;
  const curl = `curl -s -X POST ${api}/v1/predictions -H "Authorization: Bearer ${testKey}" -H "Content-Type: application/json" -H "Prefer: wait" -d "${body}"`;
  const url = (a: App, path: string): string => `http://${reachable(a.host)}:${a.port}${path}`;
  const admin = (a: App, path: string): string => `http://${reachable(env.ADMIN_HOST)}:${a.adminPort}${path}`;
  const lines = [
    '',
    '  Stratum is running.',
    '',
    `  API base URL        ${api}/v1`,
    `  API docs            ${api}/docs   (OpenAPI: ${api}/openapi.json)`,
    `  Dashboard           ${api}/dashboard/   (log in with the demo owner below)`,
    keys?.live || keys?.test
      ? `  Demo keys           live ${keys.live ?? '(none)'}\n                      test ${keys.test ?? '(none)'}   (from ${relative(process.cwd(), credentialsFile(root))})`
      : `  Demo keys           not found in .stratum/demo-keys.json; run \`npm run db:seed\` (development) and read that file`,
    ...(keys?.admin ? [`  Admin key           ${keys.admin}   (live; scopes admin + predict: management, uploads and calling them)`] : []),
    ...(keys?.owner
      ? [`  Demo owner log-in   ${keys.owner.email}  ${keys.owner.password}   (dashboard: ${api}/dashboard/login; API: POST ${api}/v1/auth/login)`]
      : [`  Demo owner log-in   none in ${relative(process.cwd(), credentialsFile(root))} (NODE_ENV=development seeds one); or sign up at ${api}/dashboard/signup`]),
    '',
    '  For the README quick start, paste into your shell:',
    ...exportLines(api, keys).map((l) => `  ${l}`),
    '',
    '  Try it (test key: never billed):',
    `  ${curl}`,
    '',
    ...list.map((a) => `  ${(a.name + ' metrics').padEnd(20)}${admin(a, '/metrics')}   (admin listener; readiness details: /readyz)`),
    `  Autoscaler          ${url(list.find((a) => a.name === 'autoscaler')!, '/readyz')}`,
    `  Postgres            ${pg.kind === 'embedded' ? `embedded PGlite (data in ${relative(process.cwd(), join(root, '.stratum', 'pglite'))})` : 'server at DATABASE_URL'}`,
    `  Redis               ${redis.kind === 'spawned' ? `redis-server started by npm start (pid ${redis.pid})` : 'server at REDIS_URL'}`,
    '',
    '  Ctrl-C stops everything.',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { root: { type: 'string' } } });
  const root = resolve(values.root ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..'));

  let env: Env;
  try {
    env = readDevelopmentEnv();
  } catch (e) {
    fail(e instanceof ConfigError ? e.message : String(e));
    return 1;
  }

  const sup = new ProcessSupervisor();
  let pg: PostgresHandle | undefined;
  let redis: RedisHandle | undefined;
  let stopping: Promise<number> | undefined;

  const shutdown = (code: number): Promise<number> =>
    (stopping ??= (async () => {
      log('stopping…');
      const hardStop = setTimeout(() => {
        fail(`shutdown took longer than ${SHUTDOWN_BUDGET_MS} ms; exiting anyway`);
        process.exit(1);
      }, SHUTDOWN_BUDGET_MS);
      hardStop.unref();
      await sup.stopAll(CHILD_STOP_TIMEOUT_MS);
      await redis?.close(1_500).catch((e: unknown) => fail(`stopping redis-server: ${String(e)}`));
      await pg?.close().catch((e: unknown) => fail(`stopping embedded Postgres: ${String(e)}`));
      clearTimeout(hardStop);
      log('stopped');
      return code;
    })());

  const signalled = new Promise<number>((resolveSignal) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        fail(`${signal} again: exiting now`);
        process.exit(1);
      }
      log(`${signal} received`);
      resolveSignal(0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  let signalCode: number | undefined;
  void signalled.then((c) => (signalCode = c));

  try {
    pg = await ensurePostgres(env.DATABASE_URL, join(root, '.stratum', 'pglite'), { log });
    redis = await ensureRedis(env.REDIS_URL, { dir: join(root, '.stratum', 'redis'), log });
    const childEnv: Record<string, string | undefined> = { ...inheritedEnv(), DATABASE_URL: pg.url, REDIS_URL: redis.url, NODE_ENV: env.NODE_ENV };

    for (const step of ['migrate', 'seed'] as const) {
      if (signalCode !== undefined) break;
      log(`running ${step}`);
      const args = step === 'seed' ? ['--credentials', credentialsFile(root)] : [];
      const code = await runOnce(sup, step, join(root, 'dist', 'scripts', `${step}.js`), childEnv, root, args);
      if (code !== 0) throw new Error(`${step} failed (exit code ${code}); see the [${step}] lines above`);
    }

    const list = apps(root, env, childEnv);
    if (signalCode === undefined) {
      for (const app of list) {
        if (!existsSync(app.entry)) throw new Error(`${relative(root, app.entry)} does not exist (run \`node scripts/build.mjs\`)`);
        sup.add(app.name, { entry: app.entry, env: app.env, cwd: root });
      }
      await Promise.race([waitReady(list, sup, READY_TIMEOUT_MS, () => signalCode !== undefined), signalled]);
    }
    if (signalCode === undefined) process.stdout.write(banner(root, env, list, await demoKeys(root), pg, redis) + '\n');
    return await shutdown(await signalled);
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
    await shutdown(1);
    return 1;
  }
}

// Imported by tests (apps(), tenantWorkerPort()): run only as the entry point.
if (process.argv[1] && realpathSync(resolve(process.argv[1])) === fileURLToPath(import.meta.url)) process.exit(await main());

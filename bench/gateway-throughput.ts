// Gateway throughput against a bare NestJS-on-Fastify app, in one run, with wrk (Debian's
// `wrk`; one thread, the machine has 2 cores): the bare app (bench/bare-app.ts, the same Nest
// and Fastify) and the real gateway (own Postgres schema, the seeded demo tenant moved to a
// plan whose limits are far away, its own Redis prefix, SYSTEM_JOBS on) are driven with the same
// requests in interleaved rounds:
//   /healthz         unauthenticated
//   /v1/features     the cheap authenticated route: key verification, rate limit (far from
//                    it: served from the local lease), quota and metering on
// Prints requests/s for each (median of the rounds, and the spread), the ratio, and the
// latency the gateway adds at about half of the bare app's saturation: wrk2 is not in Debian,
// so the offered load is a fixed number of connections chosen as the one that gives the bare
// app the throughput closest to half of its saturated rate (closed loop; stated in the output).
//
// Pinned by default (taskset, 2+ cores): both servers run on the last core and wrk on the others,
// so the load generator never shares the measured server's core (unpinned runs scatter by 2x here).
// Pinned, it also runs a paired comparison: both servers loaded at the same time on their shared
// core (each gets half of it), so the noise of a shared machine hits both alike; its per-round
// gateway/bare ratio is the steadiest figure the bench prints.
//
//   npm run bench:gateway [-- --rounds 5 --duration 5 --connections 32 --profile DIR --system-jobs on|off --pin on|off]
//   (or NODE_ENV=development node dist/bench/gateway-throughput.js ...; the gateway itself runs with NODE_ENV=production)
//
// --profile DIR starts both servers with `--cpu-prof`, writing DIR/gateway.cpuprofile and
// DIR/bare.cpuprofile (summarise with `node dist/bench/cpu-profile-summary.js DIR/gateway.cpuprofile`).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { inheritedEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { seedDemo } from '../scripts/seed.js';
import { createTestDatabase } from '../test/support/db.js';
import { freePort } from '../test/support/processes.js';
import { dropRedisPrefix } from '../test/support/redis.js';
import { cpuSecondsOf, median, pinnedCommand, pinning, wrk } from './support/measure.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    profile: { type: 'string' },
    'system-jobs': { type: 'string', default: 'on' },
    pin: { type: 'string', default: 'on' },
  },
});
// Both servers on the last core, wrk on the others (see Pinning); --pin off lets the scheduler place them.
const PIN = values.pin === 'off' ? null : await pinning();
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const PEPPER = 'bench-gateway-pepper-' + 'b'.repeat(32);

const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

/** A Node process started on a fresh port, once `ready` answers 200. */
interface Server {
  url: string;
  /** CPU seconds (user + system) the process has used so far (from /proc/<pid>/stat). */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(args: (port: number) => string[], env: (port: number) => Record<string, string | undefined>, ready: string): Promise<Server> {
  const port = await freePort();
  const [command, argv] = pinnedCommand(PIN, process.execPath, args(port));
  const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'inherit'], env: env(port) });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Never leave a server behind when the bench itself stops (error, Ctrl-C, timeout's SIGTERM).
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args(port).join(' ')} exited ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${args(port).join(' ')} not ready within 30 s`);
    const ok = await fetch(`${url}${ready}`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    cpuSeconds: () => cpuSecondsOf(child.pid!),
    stop: async () => {
      process.off('exit', orphan);
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const profileFlags = (name: string): string[] => (values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`, `--cpu-prof-name=${name}.cpuprofile`] : []);
const startBare = (featuresFile: string) =>
  startServer((port) => [...profileFlags('bare'), join(repoRoot(), 'dist', 'bench', 'bare-app.js'), String(port), featuresFile], () => inheritedEnv(), '/healthz');

async function startGateway(env: Record<string, string>, nodeFlags: string[]): Promise<Server> {
  const admin = await freePort();
  return startServer(
    () => [...nodeFlags, join(repoRoot(), 'dist', 'apps', 'gateway', 'src', 'main.js')],
    (port) => ({ ...inheritedEnv(), NO_COLOR: '1', ...env, GATEWAY_PORT: String(port), GATEWAY_ADMIN_PORT: String(admin) }),
    '/readyz',
  );
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const db = await createTestDatabase('bench_gateway');
const prefix = `bench_gw_${randomBytes(4).toString('hex')}`;
const dir = await mkdtemp(join(tmpdir(), 'stratum-bench-'));
let gateway: Server | undefined;
let bare: Server | undefined;
try {
  const demo = await seedDemo({ prisma: db.prisma, pepper: PEPPER });
  // A plan whose limits are far away: the rate limit runs (local leases from Redis), never refuses.
  const plan = await db.prisma.plan.update({ where: { key: 'enterprise' }, data: { rateLimitPerMinute: 1_000_000_000, rateLimitBurst: 100_000_000 } });
  await db.prisma.organization.update({ where: { id: demo.orgId }, data: { planId: plan.id } });
  const secret = demo.liveKey.secret!;
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    LOG_LEVEL: 'warn',
    SYSTEM_JOBS: values['system-jobs'] === 'off' ? 'off' : 'on',
    NODE_ENV: 'production',
  };
  gateway = await startGateway(env, profileFlags('gateway'));
  const auth = `Authorization: Bearer ${secret}`;
  const res = await fetch(`${gateway.url}/v1/features`, { headers: { authorization: `Bearer ${secret}` } });
  if (res.status !== 200) throw new Error(`gateway /v1/features answered ${res.status}: ${await res.text()}`);
  const body = await res.text();
  const featuresFile = join(dir, 'features.json');
  await writeFile(featuresFile, body);
  bare = await startBare(featuresFile);
  const check = await fetch(`${bare.url}/v1/features`).then((r) => r.text());
  if (check !== body) throw new Error('the bare app does not answer the same bytes as the gateway');
  // The response heads, for comparison (the gateway adds its rate-limit, quota and request-id headers).
  const headBytes = (r: Response): number => [...r.headers].reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  const gwHead = await fetch(`${gateway.url}/v1/features`, { headers: { authorization: `Bearer ${secret}` } });
  const bareHead = await fetch(`${bare.url}/v1/features`);
  await Promise.all([gwHead.arrayBuffer(), bareHead.arrayBuffer()]);
  console.log(`response head: bare ${headBytes(bareHead)} bytes, gateway ${headBytes(gwHead)} bytes (${[...gwHead.headers.keys()].join(', ')})`);
  console.log(`wrk -t1, ${CONNECTIONS} connections, ${DURATION} s per run, ${ROUNDS} interleaved rounds; /v1/features body ${Buffer.byteLength(body)} bytes`);
  console.log(PIN ? `pinned: both servers on CPU ${PIN.server}, wrk on CPU ${PIN.load} (--pin off to let the scheduler place them)` : 'not pinned');

  const targets = [
    { name: 'healthz', path: '/healthz', headers: [] as string[] },
    { name: 'features', path: '/v1/features', headers: [auth] },
  ];
  // Warm both (JIT, key cache, rate-limit lease).
  for (const t of targets) for (const base of [bare.url, gateway.url]) await wrk(base + t.path, { connections: CONNECTIONS, seconds: 2, headers: t.headers, ...(PIN ? { pin: PIN } : {}) });

  const sat: Record<string, { bare: number[]; gateway: number[] }> = { healthz: { bare: [], gateway: [] }, features: { bare: [], gateway: [] } };
  // CPU microseconds per request, from each server's own CPU time over its runs: steadier than
  // requests/s on a shared machine (a server that waits for a core still uses the same CPU per request).
  const cpu: Record<string, { bare: number[]; gateway: number[] }> = { healthz: { bare: [], gateway: [] }, features: { bare: [], gateway: [] } };
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of targets) {
      // Alternate which goes first, round by round.
      const order = r % 2 === 0 ? (['bare', 'gateway'] as const) : (['gateway', 'bare'] as const);
      for (const who of order) {
        const server = who === 'bare' ? bare : gateway;
        const before = await server.cpuSeconds();
        const w = await wrk(server.url + t.path, { connections: CONNECTIONS, seconds: DURATION, headers: t.headers, ...(PIN ? { pin: PIN } : {}) });
        const used = (await server.cpuSeconds()) - before;
        if (w.errors > 0) throw new Error(`${who} ${t.path}: ${w.errors} errors or non-2xx answers`);
        sat[t.name]![who].push(w.rps);
        cpu[t.name]![who].push((used * 1e6) / (w.rps * DURATION));
      }
    }
  }
  console.log('\nSaturated throughput (requests/s, median of rounds [min–max]):');
  for (const t of targets) {
    const b = sat[t.name]!.bare;
    const g = sat[t.name]!.gateway;
    const ratios = b.map((x, i) => g[i]! / x);
    console.log(
      `  ${t.path.padEnd(13)} bare ${median(b).toFixed(0)} [${spread(b)}]  gateway ${median(g).toFixed(0)} [${spread(g)}]  ratio ${(median(g) / median(b)).toFixed(2)} (per round: median ${median(ratios).toFixed(2)}, ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
    );
  }

  console.log('\nCPU per request (µs of the server process, median of rounds; ratio = bare / gateway, the throughput one core would give):');
  for (const t of targets) {
    const b = median(cpu[t.name]!.bare);
    const g = median(cpu[t.name]!.gateway);
    console.log(`  ${t.path.padEnd(13)} bare ${b.toFixed(1)} µs  gateway ${g.toFixed(1)} µs  ratio ${(b / g).toFixed(2)}`);
  }

  // Paired: both servers on the one pinned core, loaded at the same time by two wrk processes. Both
  // always have work, so the scheduler gives each half of the core, and whatever slows the machine
  // in a round slows both alike: gateway/bare per round is the throughput ratio at equal CPU.
  if (PIN) {
    console.log(`\nPaired on CPU ${PIN.server} (both loaded at once, each gets half the core; per round gateway/bare; median of rounds [min–max]):`);
    for (const t of targets) {
      const ratios: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const [b, g] = await Promise.all([bare, gateway].map((server) => wrk(server.url + t.path, { connections: CONNECTIONS, seconds: DURATION, headers: t.headers, pin: PIN })));
        if (b!.errors > 0 || g!.errors > 0) throw new Error(`paired ${t.path}: errors or non-2xx answers`);
        ratios.push(g!.rps / b!.rps);
      }
      console.log(`  ${t.path.padEnd(13)} ratio ${median(ratios).toFixed(2)} [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]`);
    }
  }

  // Half of saturation: the connection count whose bare throughput is closest to half the saturated rate.
  const half = median(sat.features!.bare) / 2;
  let best = { c: 1, rps: 0 };
  for (const c of [1, 2, 3, 4, 6, 8]) {
    const w = await wrk(bare.url + '/v1/features', { connections: c, seconds: 2, headers: [auth], ...(PIN ? { pin: PIN } : {}) });
    if (best.rps === 0 || Math.abs(w.rps - half) < Math.abs(best.rps - half)) best = { c, rps: w.rps };
  }
  console.log(`\nLatency at about half of saturation: ${best.c} connection(s) (bare app ${best.rps.toFixed(0)} req/s there, half of saturation ${half.toFixed(0)}):`);
  const LAT_ROUNDS = Math.max(3, Math.ceil(ROUNDS / 2));
  for (const t of targets) {
    const lat = { bare: { p50: [] as number[], p99: [] as number[] }, gateway: { p50: [] as number[], p99: [] as number[] } };
    for (let r = 0; r < LAT_ROUNDS; r++) {
      const order = r % 2 === 0 ? (['bare', 'gateway'] as const) : (['gateway', 'bare'] as const);
      for (const who of order) {
        const w = await wrk((who === 'bare' ? bare.url : gateway.url) + t.path, { connections: best.c, seconds: DURATION, headers: t.headers, ...(PIN ? { pin: PIN } : {}) });
        lat[who].p50.push(w.p50);
        lat[who].p99.push(w.p99);
      }
    }
    const f = (x: number): string => `${x.toFixed(3)} ms`;
    const added50 = median(lat.gateway.p50) - median(lat.bare.p50);
    const added99 = median(lat.gateway.p99) - median(lat.bare.p99);
    console.log(
      `  ${t.path.padEnd(13)} p50 bare ${f(median(lat.bare.p50))} gateway ${f(median(lat.gateway.p50))} (added ${f(added50)});  p99 bare ${f(median(lat.bare.p99))} gateway ${f(median(lat.gateway.p99))} (added ${f(added99)})`,
    );
  }
} finally {
  await bare?.stop();
  await gateway?.stop();
  await db.drop();
  await dropRedisPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
}


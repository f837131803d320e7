// The request-path cost of metering, in one run: two real gateways (each with its own Postgres
// schema and Redis prefix, on the same servers), one with QUOTA_METERING=on (the default: each admission reserves its units
// of the monthly quota with a Redis script, settled later from the lifecycle events) and one with
// QUOTA_METERING=off, driven by wrk with the same POST /v1/predictions (ocr-line,
// examples/hello.png, answered 202: accepted and queued; no worker runs, so the model's cost is
// not in the figure) in interleaved rounds. Usage is recorded off the request path by the usage
// consumer either way (its rate is `npm run bench:usage`).
//
// Prints requests/s of each (median of the rounds and the spread), the gateway's CPU time per
// request of each, and the cost of metering, 1 − on/off. Target (issue 11): under 5 %.
//
//   npm run bench:metering [-- --rounds 5 --duration 5 --connections 16 --profile DIR]
// --profile DIR writes DIR/metering-on.cpuprofile and DIR/metering-off.cpuprofile
// (summarise with `node dist/bench/cpu-profile-summary.js FILE`).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { inheritedEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { seedDemo } from '../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { freePort } from '../test/support/processes.js';
import { dropRedisPrefix } from '../test/support/redis.js';
import { cpuSecondsOf, median, wrk } from './support/measure.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    profile: { type: 'string' },
    'system-jobs': { type: 'string', default: 'on' },
  },
});
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const PEPPER = 'bench-metering-pepper-' + 'm'.repeat(32);

interface Server {
  url: string;
  /** CPU seconds (user + system) the gateway process has used so far (/proc/<pid>/stat). */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

async function startGateway(env: Record<string, string>, name: string): Promise<Server> {
  const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const [port, admin] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [...profile, join(repoRoot(), 'dist', 'apps', 'gateway', 'src', 'main.js')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...inheritedEnv(), NO_COLOR: '1', ...env, GATEWAY_PORT: String(port), GATEWAY_ADMIN_PORT: String(admin) },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('gateway not ready within 30 s');
    const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
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

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const dir = await mkdtemp(join(tmpdir(), 'stratum-bench-metering-'));
const image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
const body = JSON.stringify({ feature: 'ocr-line', input: { image } });

interface Stack {
  name: string;
  db: TestDatabase;
  prefix: string;
  script: string;
  secret: string;
  server?: Server;
}

/**
 * A Postgres schema and a Redis prefix of its own (so a gateway's lifecycle consumers work for
 * its own traffic only) with the seeded tenant on a plan whose limits are far away: rate and
 * in-flight caps run but never refuse (no worker finishes anything), the quota is metered (with
 * QUOTA_METERING=on) but never refuses.
 */
async function stack(name: string): Promise<Stack> {
  const db = await createTestDatabase(`bench_metering_${name}`);
  const prefix = `bench_meter_${name}_${randomBytes(4).toString('hex')}`;
  const demo = await seedDemo({ prisma: db.prisma, pepper: PEPPER });
  const plan = await db.prisma.plan.update({
    where: { key: 'enterprise' },
    data: { rateLimitPerMinute: 1_000_000_000, rateLimitBurst: 100_000_000, maxConcurrentPredictions: 1_000_000_000, monthlyQuotaUnits: 1_000_000_000, quotaOverage: 'allow' },
  });
  await db.prisma.organization.update({ where: { id: demo.orgId }, data: { planId: plan.id } });
  const secret = demo.liveKey.secret!;
  const script = join(dir, `predict-${name}.lua`);
  await writeFile(script, [`wrk.method = "POST"`, `wrk.body = ${JSON.stringify(body)}`, `wrk.headers["Content-Type"] = "application/json"`, `wrk.headers["Authorization"] = "Bearer ${secret}"`].join('\n') + '\n');
  return { name, db, prefix, script, secret };
}

async function serve(st: Stack, metering: 'on' | 'off'): Promise<Server> {
  const server = await startGateway(
    { DATABASE_URL: st.db.url, DATABASE_SCHEMA: st.db.schema, DATABASE_POOL_SIZE: '10', REDIS_PREFIX: st.prefix, API_KEY_PEPPER: PEPPER, LOG_LEVEL: 'warn', NODE_ENV: 'production', SYSTEM_JOBS: values['system-jobs'] === 'off' ? 'off' : 'on', QUOTA_METERING: metering },
    `metering-${metering}`,
  );
  st.server = server;
  // It answers 202, and only with metering on does it carry the quota policy.
  const r = await fetch(`${server.url}/v1/predictions`, { method: 'POST', headers: { authorization: `Bearer ${st.secret}`, 'content-type': 'application/json' }, body });
  const policy = r.headers.get('ratelimit-policy') ?? '';
  await r.arrayBuffer();
  if (r.status !== 202) throw new Error(`metering ${metering}: POST /v1/predictions answered ${r.status}`);
  if (policy.includes('"quota"') !== (metering === 'on')) throw new Error(`metering ${metering}: RateLimit-Policy "${policy}"`);
  await wrk(server.url + '/v1/predictions', { connections: CONNECTIONS, seconds: DURATION, script: st.script }); // warm: JIT, pools, the key cache
  return server;
}

const stacks: Stack[] = [];
try {
  const a = await stack('a');
  stacks.push(a);
  const b = await stack('b');
  stacks.push(b);
  const phases: [Stack, Stack][] = [
    [a, b],
    [b, a],
  ];
  console.log(`wrk -t1, ${CONNECTIONS} connections, ${DURATION} s per run; two phases of ${ROUNDS} interleaved rounds, the stacks swapping metering on and off between them; POST /v1/predictions (ocr-line, ${Buffer.byteLength(body)}-byte body, 202, no worker)`);
  // Two gateways side by side differ by more than metering (seen: ~10 % between two identical
  // ones), so each stack runs each setting once: the stack's own bias cancels in the product.
  const rps = { on: [] as number[], off: [] as number[] };
  const cpu = { on: [] as number[], off: [] as number[] };
  const phaseRatios: number[] = [];
  for (const [phase, [onStack, offStack]] of phases.entries()) {
    const sides = { on: { st: onStack, server: await serve(onStack, 'on') }, off: { st: offStack, server: await serve(offStack, 'off') } };
    const phaseRps = { on: [] as number[], off: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const which of order) {
        const { st, server } = sides[which];
        const before = await server.cpuSeconds();
        const w = await wrk(server.url + '/v1/predictions', { connections: CONNECTIONS, seconds: DURATION, script: st.script });
        const cpuUs = (((await server.cpuSeconds()) - before) / w.requests) * 1e6;
        if (w.non2xx > 0) throw new Error(`metering ${which}: ${w.non2xx} of ${w.requests} answers were not 2xx`);
        rps[which].push(w.rps);
        phaseRps[which].push(w.rps);
        cpu[which].push(cpuUs);
        console.log(`phase ${phase + 1} (stack ${st.name}) round ${round + 1} metering ${which.padEnd(3)} ${w.rps.toFixed(0)} req/s, gateway CPU ${cpuUs.toFixed(0)} µs/request`);
      }
    }
    phaseRatios.push(median(phaseRps.on) / median(phaseRps.off));
    await Promise.all([sides.on.server.stop(), sides.off.server.stop()]);
  }
  const ratio = Math.sqrt(phaseRatios[0]! * phaseRatios[1]!);
  const cOn = median(cpu.on);
  const cOff = median(cpu.off);
  console.log(`metering on : ${median(rps.on).toFixed(0)} req/s (${Math.min(...rps.on).toFixed(0)}–${Math.max(...rps.on).toFixed(0)})`);
  console.log(`metering off: ${median(rps.off).toFixed(0)} req/s (${Math.min(...rps.off).toFixed(0)}–${Math.max(...rps.off).toFixed(0)})`);
  console.log(`gateway CPU per request: on ${cOn.toFixed(0)} µs, off ${cOff.toFixed(0)} µs (metering adds ${(cOn - cOff).toFixed(0)} µs, ${((cOn / cOff - 1) * 100).toFixed(1)} %)`);
  console.log(`ratio on/off per phase ${phaseRatios.map((r) => r.toFixed(3)).join(', ')}; both stacks ${ratio.toFixed(3)}; metering cost ${((1 - ratio) * 100).toFixed(1)} % (target < 5 %)`);
} finally {
  for (const st of stacks) {
    await st.server?.stop();
    await dropRedisPrefix(st.prefix);
    await st.db.drop();
  }
  await rm(dir, { recursive: true, force: true });
}

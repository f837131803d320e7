// Cost of API-key verification on the hot path, measured in ONE run against its baseline:
//   http    the same cheap route (GET, tiny JSON answer) on one real HTTP server (Nest on
//           Fastify, as the gateway), once behind ApiKeyGuard with a warm key and once without
//           authentication; keep-alive clients; the two variants alternate round by round
//           (and which goes first alternates too) so machine noise hits both alike.
//           Prints both throughputs, their ratio, and the latency the guard adds (p50/p99 µs).
//   direct  ApiKeyVerifier.verify() in a loop on the warm key: p50/p99 µs per call.
// Real Postgres (own schema) and Redis (own prefix), both dropped at the end.
// Target: the guard adds < 100 µs at p99 on a cache hit.
//
// Flags: --rounds N (10) --requests N (2000 per variant and round) --clients N (8)
//        --direct N (200000 verify calls) --json
// Throughput is measured with --clients concurrent callers; latency with one sequential caller
// (a quarter of --requests per round), so queueing does not hide the guard's own cost.
import 'reflect-metadata';
import { Controller, Get, Module, UseGuards } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ApiKeyGuard, ApiKeysModule, ApiKeyVerifier, digestApiKey, generateApiKey } from '#platform/api-keys';
import { ConfigModule, parseEnv, readDevelopmentEnv } from '#infra/config';
import { DbModule, uuidv7 } from '#infra/db';
import { createHttpApp } from '#infra/http';
import { MetricsModule } from '#infra/metrics';
import { RedisModule } from '#infra/redis';
import { seedDemo } from '../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { dropRedisPrefix } from '../test/support/redis.js';

const PEPPER = 'bench-pepper-' + 'x'.repeat(32);

@Controller('bench')
class OpenController {
  @Get('open')
  open(): { ok: true } {
    return { ok: true };
  }
}

@Controller('bench')
@UseGuards(ApiKeyGuard)
class GuardedController {
  @Get('guarded')
  guarded(): { ok: true } {
    return { ok: true };
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

function get(agent: Agent, port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Sample {
  latenciesUs: number[];
  wallMs: number;
  requests: number;
  failures: number;
}

async function drive(agent: Agent, port: number, path: string, headers: Record<string, string>, requests: number, clients: number, into: Sample): Promise<void> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < requests) {
        next++;
        const s = performance.now();
        const status = await get(agent, port, path, headers);
        into.latenciesUs.push((performance.now() - s) * 1000);
        if (status !== 200) into.failures++;
      }
    }),
  );
  into.wallMs += performance.now() - t0;
  into.requests += requests;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string' }, requests: { type: 'string' }, clients: { type: 'string' }, direct: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const rounds = Number(values.rounds ?? 10);
  const perRound = Math.max(4, Number(values.requests ?? 2000));
  const clients = Number(values.clients ?? 8);
  const directCalls = Number(values.direct ?? 200_000);
  for (const [name, n] of Object.entries({ rounds, requests: perRound, clients, direct: directCalls })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  }

  const db: TestDatabase = await createTestDatabase('bench_keys');
  const prefix = `bench_keys_${randomBytes(4).toString('hex')}`;
  let app: Awaited<ReturnType<typeof createHttpApp>> | undefined;
  try {
    const { orgId } = await seedDemo({ prisma: db.prisma, pepper: PEPPER });
    const key = generateApiKey('live');
    await db.prisma.apiKey.create({
      data: { id: uuidv7(), orgId, name: 'bench', mode: 'live', displayPrefix: key.displayPrefix, digest: digestApiKey(key.secret, PEPPER), scopes: ['predict'] },
    });
    const env = parseEnv({
      DATABASE_URL: db.url,
      DATABASE_SCHEMA: db.schema,
      DATABASE_POOL_SIZE: '2',
      REDIS_URL: readDevelopmentEnv().REDIS_URL,
      REDIS_PREFIX: prefix,
      API_KEY_PEPPER: PEPPER,
      API_KEY_CACHE_TTL_MS: '60000', // a cache hit is what is measured
      LOG_LEVEL: 'warn',
    });

    @Module({ imports: [ConfigModule.forRoot(env), MetricsModule.forRoot('bench'), DbModule, RedisModule, ApiKeysModule], controllers: [OpenController, GuardedController] })
    class BenchModule {}

    app = await createHttpApp(BenchModule, { bodyLimit: 1024 * 1024, logLevel: 'warn' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const agent = new Agent({ keepAlive: true, maxSockets: clients });
    const auth = { authorization: `Bearer ${key.secret}` };

    // Warm-up: JIT, keep-alive sockets, and the key in the in-process cache.
    const scratch: Sample = { latenciesUs: [], wallMs: 0, requests: 0, failures: 0 };
    await drive(agent, port, '/bench/open', {}, 500, clients, scratch);
    await drive(agent, port, '/bench/guarded', auth, 500, clients, scratch);
    if (scratch.failures > 0) throw new Error(`warm-up: ${scratch.failures} request(s) failed`);

    // Throughput with `clients` concurrent callers; latency with one caller (no queueing in it).
    const open: Sample = { latenciesUs: [], wallMs: 0, requests: 0, failures: 0 };
    const guarded: Sample = { latenciesUs: [], wallMs: 0, requests: 0, failures: 0 };
    const openSeq: Sample = { latenciesUs: [], wallMs: 0, requests: 0, failures: 0 };
    const guardedSeq: Sample = { latenciesUs: [], wallMs: 0, requests: 0, failures: 0 };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['open', 'guarded'] as const) : (['guarded', 'open'] as const);
      for (const v of order) {
        if (v === 'open') await drive(agent, port, '/bench/open', {}, perRound, clients, open);
        else await drive(agent, port, '/bench/guarded', auth, perRound, clients, guarded);
      }
      for (const v of order) {
        if (v === 'open') await drive(agent, port, '/bench/open', {}, perRound / 4, 1, openSeq);
        else await drive(agent, port, '/bench/guarded', auth, perRound / 4, 1, guardedSeq);
      }
    }
    agent.destroy();

    // Direct: the verifier alone on the warm key.
    const verifier = app.get(ApiKeyVerifier);
    for (let i = 0; i < 10_000; i++) await verifier.verify(key.secret, '127.0.0.1');
    const direct: number[] = new Array<number>(directCalls);
    for (let i = 0; i < directCalls; i++) {
      const s = process.hrtime.bigint();
      await verifier.verify(key.secret, '127.0.0.1');
      direct[i] = Number(process.hrtime.bigint() - s) / 1000;
    }

    const sortedOpen = [...openSeq.latenciesUs].sort((a, b) => a - b);
    const sortedGuarded = [...guardedSeq.latenciesUs].sort((a, b) => a - b);
    const sortedDirect = direct.sort((a, b) => a - b);
    const tput = (s: Sample): number => (s.requests * 1000) / s.wallMs;
    const result = {
      rounds,
      requestsPerVariant: open.requests,
      clients,
      open: { throughput: Math.round(tput(open)), p50Us: round1(percentile(sortedOpen, 50)), p99Us: round1(percentile(sortedOpen, 99)), failures: open.failures + openSeq.failures },
      guarded: { throughput: Math.round(tput(guarded)), p50Us: round1(percentile(sortedGuarded, 50)), p99Us: round1(percentile(sortedGuarded, 99)), failures: guarded.failures + guardedSeq.failures },
      ratioGuardedOverOpen: Math.round((tput(guarded) / tput(open)) * 1000) / 1000,
      addedP50Us: round1(percentile(sortedGuarded, 50) - percentile(sortedOpen, 50)),
      addedP99Us: round1(percentile(sortedGuarded, 99) - percentile(sortedOpen, 99)),
      direct: { calls: directCalls, p50Us: round1(percentile(sortedDirect, 50)), p99Us: round1(percentile(sortedDirect, 99)) },
    };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`key verification, ${rounds} interleaved rounds x ${perRound} requests per variant, ${clients} keep-alive clients`);
      console.log('  (throughput at that concurrency; latency from a single sequential client)');
      console.log(`  without auth   ${result.open.throughput} req/s   p50 ${result.open.p50Us} µs   p99 ${result.open.p99Us} µs`);
      console.log(`  ApiKeyGuard    ${result.guarded.throughput} req/s   p50 ${result.guarded.p50Us} µs   p99 ${result.guarded.p99Us} µs`);
      console.log(`  ratio guarded/open throughput ${result.ratioGuardedOverOpen}`);
      console.log(`  added latency  p50 ${result.addedP50Us} µs   p99 ${result.addedP99Us} µs   (target p99 < 100 µs)`);
      console.log(`  verify() direct, warm key, ${directCalls} calls: p50 ${result.direct.p50Us} µs   p99 ${result.direct.p99Us} µs`);
    }
    return result.open.failures + result.guarded.failures === 0 ? 0 : 1;
  } finally {
    await app?.close();
    await db.drop();
    await dropRedisPrefix(prefix);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);

// Cost of the rate limiter per request, measured in ONE process against its baseline:
//   direct  RateLimiter.admit() in a loop: a key far from its limit (served from leases) and a
//           key near it (every call one Redis script call, exact); µs per call p50/p99 and the
//           Redis calls made.
//   http    one Fastify server, the same tiny route with and without an onRequest hook that
//           calls admit() for a key far from its limit; keep-alive clients, variants
//           alternating round by round; requests per second of each and their ratio.
// Real Redis (own prefix, dropped at the end). Flags: --direct N (200000) --rounds N (6)
//   --requests N (4000 per variant and round) --clients N (16)
import 'reflect-metadata';
import Fastify from 'fastify';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { AppConfig, parseEnv, readDevelopmentEnv } from '#infra/config';
import { MetricsRegistry } from '#infra/metrics';
import { RedisClient } from '#infra/redis';
import { RateLimiter, type RateLimitSubject } from '#platform/rate-limits';
import { dropRedisPrefix } from '../test/support/redis.js';

const { values } = parseArgs({ options: { direct: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '6' }, requests: { type: 'string', default: '4000' }, clients: { type: 'string', default: '16' } } });
const DIRECT = Number(values.direct);
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const CLIENTS = Number(values.clients);

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const us = (ms: number): string => (ms * 1000).toFixed(2);

function subject(perMinute: number, burst: number): RateLimitSubject {
  return { keyId: randomBytes(8).toString('hex'), orgId: randomBytes(8).toString('hex'), mode: 'live', rateLimitPerMinute: perMinute, orgRateLimitPerMinute: perMinute, rateLimitBurst: burst };
}

async function redisCallsOf(metrics: MetricsRegistry): Promise<number> {
  const m = await metrics.registry.getSingleMetric('stratum_rate_limit_redis_calls_total')!.get();
  return m.values[0]?.value ?? 0;
}

async function direct(limiter: RateLimiter, metrics: MetricsRegistry, s: RateLimitSubject, n: number, label: string): Promise<void> {
  const times: number[] = [];
  const before = await redisCallsOf(metrics);
  let refused = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    try {
      await limiter.admit(s);
    } catch {
      refused++;
    }
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const calls = (await redisCallsOf(metrics)) - before;
  console.log(`direct ${label}: ${n} admits, p50 ${us(pct(times, 50))} µs, p99 ${us(pct(times, 99))} µs, Redis calls ${calls} (${(calls / n).toFixed(4)} per request), refused ${refused}`);
}

function get(agent: Agent, port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function load(port: number, path: string, total: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next++ < total) await get(agent, port, path);
    }),
  );
  const rps = total / ((performance.now() - t0) / 1000);
  agent.destroy();
  return rps;
}

async function main(): Promise<void> {
  const prefix = `bench_rl_${randomBytes(4).toString('hex')}`;
  const config = new AppConfig(parseEnv({ REDIS_URL: readDevelopmentEnv().REDIS_URL, REDIS_PREFIX: prefix, NODE_ENV: 'development' }));
  const redis = new RedisClient(config);
  const metrics = new MetricsRegistry('bench');
  const limiter = new RateLimiter(redis, metrics);
  try {
    await redis.redis.ping();
    // Far from the limit: 6M a minute, burst 1M. Near it: burst 20 at 6M a minute would refill
    // too fast; a key with fewer than 64 left at every call keeps asking Redis for one.
    await direct(limiter, metrics, subject(6_000_000, 1_000_000), DIRECT, 'far from the limit (leases)');
    await direct(limiter, metrics, subject(60_000_000, 50), Math.min(DIRECT, 20_000), 'near the limit (exact, one script call each)');

    const far = subject(60_000_000, 10_000_000);
    const app = Fastify();
    app.get('/open', async () => ({ ok: true }));
    app.register(async (scope) => {
      scope.addHook('onRequest', async (_req, reply) => {
        void reply.headers(await limiter.admit(far));
      });
      scope.get('/limited', async () => ({ ok: true }));
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    await load(port, '/open', 1000);
    await load(port, '/limited', 1000);
    const rps = { open: [] as number[], limited: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 ? (['limited', 'open'] as const) : (['open', 'limited'] as const);
      for (const v of order) rps[v].push(await load(port, `/${v}`, REQUESTS));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const open = median(rps.open);
    const limited = median(rps.limited);
    console.log(`http (${CLIENTS} keep-alive clients, median of ${ROUNDS} rounds): without limiter ${open.toFixed(0)} req/s, with limiter ${limited.toFixed(0)} req/s, ratio ${(limited / open).toFixed(3)}`);
    await app.close();
  } finally {
    await dropRedisPrefix(prefix, redis.redis);
    await redis.onApplicationShutdown();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

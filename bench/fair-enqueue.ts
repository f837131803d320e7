// Cost of fair scheduling at enqueue, in ONE run against its baseline, on the real Redis (own
// prefix, dropped at the end): InferenceQueues.enqueue (the fair-share script, then BullMQ's
// add) against BullMQ's add alone with the plan priority (what main did). Each round enqueues
// --jobs jobs per variant from 10 organizations, sequentially (latency per job) and with
// --concurrency in flight (throughput); the variants alternate round by round.
//
//   npm run build && node dist/bench/fair-enqueue.js [--rounds 5] [--jobs 2000] [--concurrency 32]
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { readProcessEnv } from '#infra/config';
import { INFERENCE_ATTEMPTS, INFERENCE_JOB_NAME, InferenceQueues, inferenceQueueName, KEEP_COMPLETED, KEEP_FAILED, type InferenceJobData } from '#infra/queue';
import { dropRedisPrefix } from '../test/support/redis.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, jobs: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '32' } } });
const rounds = Number(values.rounds);
const jobs = Number(values.jobs);
const concurrency = Number(values.concurrency);
const prefix = `bench_fair_${randomBytes(3).toString('hex')}`;
const orgs = Array.from({ length: 10 }, () => randomUUID());

const redis = new Redis(readProcessEnv().REDIS_URL, { maxRetriesPerRequest: null });
const fairQueue = new Queue<InferenceJobData>(inferenceQueueName('fair'), { connection: redis, prefix });
const plainQueue = new Queue<InferenceJobData>(inferenceQueueName('plain'), { connection: redis, prefix });
const queues = new InferenceQueues(redis, new Map([['fair', fairQueue]]));

const data = (i: number): InferenceJobData => ({
  kind: 'feature',
  predictionId: randomUUID(),
  orgId: orgs[i % orgs.length]!,
  apiKeyId: orgs[0]!,
  mode: 'live',
  models: [{ name: 'ppocr-rec', version: '1' }],
  priority: i % 3 ? 10 : 1,
  enqueuedAt: Date.now(),
  feature: { name: 'ocr-line', version: '1' },
});
const variants = {
  fair: (d: InferenceJobData) => queues.enqueue('fair', d),
  plain: async (d: InferenceJobData) => {
    await plainQueue.add(INFERENCE_JOB_NAME, d, { jobId: d.predictionId, priority: d.priority, attempts: INFERENCE_ATTEMPTS, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED });
  },
};
type Variant = keyof typeof variants;
const ORDERS: Variant[][] = [
  ['fair', 'plain'],
  ['plain', 'fair'],
];

const perJobUs: Record<Variant, number[]> = { fair: [], plain: [] };
const throughput: Record<Variant, number[]> = { fair: [], plain: [] };
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

async function round(v: Variant): Promise<void> {
  for (let i = 0; i < jobs / 4; i++) {
    const d = data(i);
    const t = performance.now();
    await variants[v](d);
    perJobUs[v].push((performance.now() - t) * 1000);
  }
  const t = performance.now();
  for (let i = 0; i < jobs; i += concurrency) await Promise.all(Array.from({ length: Math.min(concurrency, jobs - i) }, (_, k) => variants[v](data(i + k))));
  throughput[v].push(jobs / ((performance.now() - t) / 1000));
}

await redis.ping();
try {
  for (let r = 0; r < rounds; r++) for (const v of ORDERS[r % 2]!) await round(v);
  for (const v of ['plain', 'fair'] as Variant[]) {
    const tp = throughput[v].reduce((a, b) => a + b, 0) / throughput[v].length;
    console.log(`${v.padEnd(5)}  sequential p50 ${pct(perJobUs[v], 0.5).toFixed(0)} µs  p99 ${pct(perJobUs[v], 0.99).toFixed(0)} µs  |  ${concurrency} in flight: ${tp.toFixed(0)} jobs/s`);
  }
  const ratio = throughput.fair.reduce((a, b) => a + b, 0) / throughput.plain.reduce((a, b) => a + b, 0);
  console.log(`fair / plain throughput: ${ratio.toFixed(2)}; added per job (p50): ${(pct(perJobUs.fair, 0.5) - pct(perJobUs.plain, 0.5)).toFixed(0)} µs`);
} finally {
  await fairQueue.close();
  await plainQueue.close();
  await dropRedisPrefix(prefix, redis);
  redis.disconnect();
}

// A PredictionLifecycle on a test database with a recording queue: what was enqueued and
// which predictions were announced finished, without Redis. The usage consumer can be
// drained on demand (the gateway runs it in a loop).
import { UsageConsumer } from '#platform/metering';
import { deliverOnce, PredictionLifecycle, PredictionsRepository, type LifecycleConsumer } from '#platform/predictions';
import type { PrismaClient } from '#infra/db';
import type { InferenceJobData } from '#infra/queue';

export interface TestLifecycle {
  lifecycle: PredictionLifecycle;
  repo: PredictionsRepository;
  enqueued: InferenceJobData[];
  announced: string[];
  /** Runs the usage consumer until it has read every committed event. */
  drainUsage(): Promise<void>;
}

export async function drain(prisma: PrismaClient, consumer: LifecycleConsumer, owner = 'test'): Promise<void> {
  for (;;) {
    const r = await deliverOnce(prisma, consumer, owner, { batch: 100, leaseMs: 10_000 });
    if (!r.leased) throw new Error(`consumer ${consumer.name} is leased by another runner`);
    if (!r.more) return;
  }
}

export function testLifecycle(prisma: PrismaClient, env: { PREDICTION_DEADLINE_SECONDS?: number } = {}): TestLifecycle {
  const enqueued: InferenceJobData[] = [];
  const announced: string[] = [];
  const queues = {
    assertAvailable: () => undefined,
    enqueue: async (_pool: string, data: InferenceJobData) => void enqueued.push(data),
    removeIfWaiting: async () => false,
  };
  const events = { publishFinished: async (id: string) => void announced.push(id), waitFor: () => ({ done: Promise.resolve(true), cancel: () => undefined }) };
  const config = { env: { PREDICTION_DEADLINE_SECONDS: env.PREDICTION_DEADLINE_SECONDS ?? 900 } };
  const repo = new PredictionsRepository(prisma);
  const lifecycle = new PredictionLifecycle(prisma, repo, queues as never, events as never, config as never);
  const usage = new UsageConsumer(prisma);
  return { lifecycle, repo, enqueued, announced, drainUsage: () => drain(prisma, usage) };
}

/**
 * Resolves once the named consumer (run by a gateway process) has handled every lifecycle
 * event committed before the call: then what it derives (usage events…) is settled.
 */
export async function consumerCaughtUp(prisma: PrismaClient, name = 'usage', timeoutMs = 15_000): Promise<void> {
  const [last] = await prisma.predictionEvent.findMany({ orderBy: { seq: 'desc' }, take: 1, select: { seq: true } });
  if (!last) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await prisma.outboxConsumer.findUnique({ where: { name }, select: { seq: true } });
    if (c && c.seq >= last.seq) return;
    if (Date.now() > deadline) throw new Error(`consumer ${name} did not catch up with event ${last.seq} within ${timeoutMs} ms (at ${c ? c.seq : 'nothing'})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

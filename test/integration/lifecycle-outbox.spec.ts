// The lifecycle's outbox against the real Postgres: events come out in commit order with no
// gap (a transaction that commits late is never skipped), a consumer that crashes after
// handling and before saving its position sees the event again without double-counting,
// and one runner at a time holds a consumer.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Prisma, uuidv7 } from '#infra/db';
import { UsageConsumer } from '#platform/metering';
import { AppConfig, parseEnv } from '#infra/config';
import { deliverOnce, OUTBOX_APPEND_LOCK_SQL, OutboxDispatcher, outboxHead, readEvents, type LifecycleConsumer, type LifecycleEvent } from '#platform/predictions';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { drain, testLifecycle, type TestLifecycle } from '../support/lifecycle.js';

let db: TestDatabase;
let t: TestLifecycle;
let orgId: string;
let apiKeyId: string;

beforeAll(async () => {
  db = await createTestDatabase('lifecycle_outbox');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: 'p'.repeat(40) });
  orgId = seeded.orgId;
  apiKeyId = seeded.liveKey.id;
  t = testLifecycle(db.prisma);
}, 60_000);

afterAll(async () => {
  await db?.drop();
});

const who = () => ({ orgId, apiKeyId, mode: 'live' as const, priority: 1 });

/** A prediction taken to success through the lifecycle (as a worker would). */
async function succeeded(units = 1): Promise<string> {
  const { record } = await t.lifecycle.submit(who(), { feature: 'ocr-line', featureVersion: '1', pool: 'ppocr-rec', models: [], spec: { kind: 'feature' }, input: { image: 'x' } }, { waitMs: null });
  expect(await t.lifecycle.start({ orgId }, record.id, 1, new Date())).not.toBeNull();
  expect(await t.lifecycle.succeed({ orgId }, record.id, { output: {}, metrics: { queue_time_ms: 0, predict_time_ms: 0, total_time_ms: 0, batch_size: 1 }, models: [], units, unitType: 'image' }, new Date())).toBe(true);
  return record.id;
}

/** Records what it saw; optionally throws right after handling the nth wanted event. */
function recorder(name: string, crashAfter?: number): LifecycleConsumer & { seen: LifecycleEvent[] } {
  const usage = new UsageConsumer(db.prisma);
  const seen: LifecycleEvent[] = [];
  return {
    name,
    types: ['prediction.succeeded'],
    seen,
    async handle(e) {
      await usage.handle(e);
      seen.push(e);
      if (crashAfter !== undefined && seen.length === crashAfter) throw new Error('crashed after handling, before saving the position');
    },
  };
}

describe('the lifecycle outbox', () => {
  it('records each transition as one typed event, in order, with its times in UTC', async () => {
    const before = Date.now();
    const id = await succeeded(3);
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id } });
    for (const t of [row.createdAt, row.startedAt!, row.completedAt!]) expect(Math.abs(t.getTime() - before)).toBeLessThan(30_000);
    expect(row.deadlineAt.getTime() - row.createdAt.getTime()).toBe(900_000);
    const events = await db.prisma.predictionEvent.findMany({ where: { predictionId: id }, orderBy: { seq: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['prediction.created', 'prediction.started', 'prediction.succeeded']);
    expect(events[2]!.data).toEqual({ apiKeyId, mode: 'live', feature: 'ocr-line', featureVersion: '1', units: 3, unitType: 'image', models: [] });
  });

  it('orders events by commit: an append waits for an earlier open one, so a late commit is never skipped', async () => {
    const from = { seq: 0n };
    const before = await readEvents(db.prisma, from, 10_000);
    const position = before.at(-1)?.position ?? from;
    let commit!: () => void;
    const held = new Promise<void>((resolve) => (commit = resolve));
    let appended!: () => void;
    const appendedEarly = new Promise<void>((resolve) => (appended = resolve));
    const [early, late] = [uuidv7(), uuidv7()];
    const append = (tx: Prisma.TransactionClient, id: string) => tx.$queryRawUnsafe(OUTBOX_APPEND_LOCK_SQL).then(() => tx.predictionEvent.create({ data: { id, orgId, predictionId: uuidv7(), type: 'prediction.created', data: {} } }));
    // Transaction A appends first and commits last.
    const slow = db.prisma.$transaction(
      async (tx) => {
        await append(tx, early);
        appended();
        await held;
      },
      { timeout: 30_000 },
    );
    await appendedEarly;
    const fast = db.prisma.$transaction(async (tx) => append(tx, late), { timeout: 30_000 });
    // B waits on the append lock while A is open (polled on that exact condition).
    for (;;) {
      const waiting = await db.prisma.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND NOT granted AND objid::text::bigint = (hashtext('stratum.outbox.' || current_schema())::bigint & 4294967295)`;
      if ((waiting[0]?.n ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await readEvents(db.prisma, position, 100)).map((e) => e.id)).toEqual([]);
    commit();
    await Promise.all([slow, fast]);
    expect((await readEvents(db.prisma, position, 100)).map((e) => e.id)).toEqual([early, late]);
  });

  it('a consumer that crashes after handling and before saving sees the event again and does not double-count it', async () => {
        const ids = [await succeeded(2), await succeeded(5)];
    const crashing = recorder('usage-crash', 1);
    // The first round handles (records usage for) the first event, then crashes before saving.
    await expect(deliverOnce(db.prisma, crashing, 'runner-a', { batch: 100, leaseMs: 10_000 })).rejects.toThrow('crashed after handling');
    const positionAfterCrash = await db.prisma.outboxConsumer.findUniqueOrThrow({ where: { name: 'usage-crash' } });
    const again = recorder('usage-crash');
    await drain(db.prisma, again, 'runner-a');
    // At least once: the event handled before the crash is delivered again…
    const firstId = crashing.seen[0]!.predictionId;
    expect(again.seen.map((e) => e.predictionId)).toContain(firstId);
    // The position stopped before the event whose handling was not confirmed.
    const crashed = await db.prisma.predictionEvent.findFirstOrThrow({ where: { predictionId: firstId, type: 'prediction.succeeded' } });
    expect(positionAfterCrash.seq < crashed.seq).toBe(true);
    // …and counted once: one usage event per prediction, with its units.
    for (const [i, id] of ids.entries()) {
      expect(await db.prisma.usageEvent.findMany({ where: { id }, select: { units: true } })).toEqual([{ units: i === 0 ? 2 : 5 }]);
    }
  });

  it('one runner at a time holds a consumer; another takes over when the lease expires', async () => {
    const c = recorder('usage-lease');
    expect((await deliverOnce(db.prisma, c, 'runner-a', { batch: 1, leaseMs: 60_000 })).leased).toBe(true);
    expect((await deliverOnce(db.prisma, c, 'runner-b', { batch: 1, leaseMs: 60_000 })).leased).toBe(false);
    await db.prisma.outboxConsumer.update({ where: { name: 'usage-lease' }, data: { leaseUntil: new Date(Date.now() - 1) } });
    expect((await deliverOnce(db.prisma, c, 'runner-b', { batch: 1, leaseMs: 60_000 })).leased).toBe(true);
  });

  it('failures and cancellations are never billed', async () => {
    const scope = { orgId };
    const failed = (await t.lifecycle.submit(who(), { feature: 'ocr-line', featureVersion: '1', pool: 'ppocr-rec', models: [], spec: { kind: 'feature' }, input: {} }, { waitMs: null })).record.id;
    await t.lifecycle.start(scope, failed, 1, new Date());
    expect(await t.lifecycle.fail(scope, failed, { code: 'invalid_input', message: 'x' }, null, new Date())).toBe(true);
    const canceled = (await t.lifecycle.submit(who(), { feature: 'ocr-line', featureVersion: '1', pool: 'ppocr-rec', models: [], spec: { kind: 'feature' }, input: {} }, { waitMs: null })).record.id;
    expect((await t.lifecycle.cancel({ orgId, mode: 'live' }, canceled, new Date()))?.status).toBe('canceled');
    await t.drainUsage();
    expect(await db.prisma.usageEvent.count({ where: { id: { in: [failed, canceled] } } })).toBe(0);
    expect(await db.prisma.predictionEvent.count({ where: { predictionId: { in: [failed, canceled] }, type: 'prediction.succeeded' } })).toBe(0);
  });

  it('a round reports the position it reached, and the head says when something newer exists', async () => {
    const c = recorder('usage-head');
    await drain(db.prisma, c, 'runner-a');
    const round = await deliverOnce(db.prisma, c, 'runner-a', { batch: 100, leaseMs: 10_000 });
    expect(round).toMatchObject({ read: 0, leased: true, more: false });
    expect(round.position?.seq).toBe(await outboxHead(db.prisma));
    const id = await succeeded(1);
    const head = await outboxHead(db.prisma);
    expect(head > round.position!.seq).toBe(true);
    const next = await deliverOnce(db.prisma, c, 'runner-a', { batch: 100, leaseMs: 10_000 });
    expect(next.position?.seq).toBe(head);
    expect(c.seen.at(-1)?.predictionId).toBe(id);
  });

  it('the dispatcher, idle after catching up, still delivers an event appended later (it skips rounds only while the head has not moved)', async () => {
    const seen: string[] = [];
    let wake: (() => void) | undefined;
    const usage = new UsageConsumer(db.prisma);
    const consumer: LifecycleConsumer = {
      name: 'usage-dispatcher',
      types: ['prediction.succeeded'],
      async handle(e) {
        await usage.handle(e);
        seen.push(e.predictionId);
        wake?.();
      },
    };
    const config = new AppConfig(parseEnv({ NODE_ENV: 'test', SYSTEM_JOBS: 'on', OUTBOX_POLL_MS: '20' }));
    const dispatcher = new OutboxDispatcher(db.prisma, config, [consumer]);
    const seenId = (id: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`event of ${id} not delivered within 4 s (under the 5 s lease renewal, so only the head can have woken it)`)), 4_000);
        wake = () => {
          if (seen.includes(id)) {
            clearTimeout(timer);
            resolve();
          }
        };
        wake();
      });
    dispatcher.onApplicationBootstrap();
    try {
      const first = await succeeded(1);
      await seenId(first);
      // Caught up: from here the dispatcher only reads the head each poll until it moves.
      const second = await succeeded(2);
      await seenId(second);
      expect(await db.prisma.usageEvent.findUniqueOrThrow({ where: { id: second }, select: { units: true } })).toEqual({ units: 2 });
      expect(seen.filter((id) => id === first)).toHaveLength(1);
    } finally {
      await dispatcher.onApplicationShutdown();
    }
  });
});

// The recovery loop and retention against the real Postgres, with a queue whose state the
// test sets: a job the queue lost is enqueued again, a prediction past its deadline fails with
// deadline_exceeded, a job that failed for good fails its prediction; retention deletes inputs,
// outputs and old lifecycle events and keeps the record.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PredictionRecovery } from '#platform/predictions';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testLifecycle, type TestLifecycle } from '../support/lifecycle.js';

let db: TestDatabase;
let t: TestLifecycle;
let orgId: string;
let apiKeyId: string;
const jobStates = new Map<string, string>();
const removed: string[] = [];
/** Runs when recovery asks for a job's state (to interleave a worker between its reads). */
const onJobState = new Map<string, () => Promise<void>>();
let recovery: PredictionRecovery;
const env = { RECOVERY_GRACE_MS: 1_000, PREDICTION_DEADLINE_SECONDS: 900, PREDICTION_RETENTION_DAYS: 30 };

beforeAll(async () => {
  db = await createTestDatabase('recovery_retention');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: 'p'.repeat(40) });
  orgId = seeded.orgId;
  apiKeyId = seeded.liveKey.id;
  t = testLifecycle(db.prisma);
  const queues = {
    jobState: async (_pool: string, id: string) => {
      await onJobState.get(id)?.();
      return jobStates.get(id) ?? 'unknown';
    },
    removeIfWaiting: async (_pool: string, id: string) => void removed.push(id),
    removeJob: async (_pool: string, id: string) => void removed.push(id),
  };
  recovery = new PredictionRecovery(t.repo, t.lifecycle, queues as never, db.prisma, { env } as never);
}, 60_000);

afterAll(async () => {
  await db?.drop();
});

async function submitted(): Promise<string> {
  const { record } = await t.lifecycle.submit({ orgId, apiKeyId, mode: 'live', priority: 1 }, { feature: 'ocr-line', featureVersion: '1', pool: 'ocr', models: [], spec: { kind: 'feature' }, input: { image: 'x'.repeat(64) } }, { waitMs: null });
  return record.id;
}
const status = async (id: string) => (await db.prisma.prediction.findUniqueOrThrow({ where: { id } })).status;

describe('the recovery loop', () => {
  it('re-enqueues an accepted prediction whose job the queue lost, and leaves a waiting one alone', async () => {
    const [lost, waiting] = [await submitted(), await submitted()];
    jobStates.set(waiting, 'waiting');
    t.enqueued.length = 0;
    const later = new Date(Date.now() + 2_000); // past the grace period
    const report = await recovery.tick(later);
    expect(t.enqueued.map((j) => j.predictionId)).toContain(lost);
    expect(t.enqueued.map((j) => j.predictionId)).not.toContain(waiting);
    expect(report.actions.requeue).toBeGreaterThanOrEqual(1);
    const job = t.enqueued.find((j) => j.predictionId === lost)!;
    expect(job).toMatchObject({ kind: 'feature', orgId, feature: { name: 'ocr-line', version: '1' } });
    expect(job).not.toHaveProperty('input');
    jobStates.set(lost, 'waiting');
  });

  it('does not touch predictions younger than the grace period', async () => {
    const fresh = await submitted();
    t.enqueued.length = 0;
    await recovery.tick(new Date());
    expect(t.enqueued.map((j) => j.predictionId)).not.toContain(fresh);
    jobStates.set(fresh, 'waiting');
  });

  it('fails a prediction past its deadline with deadline_exceeded, and one whose job failed for good', async () => {
    const [expired, lost] = [await submitted(), await submitted()];
    jobStates.set(expired, 'waiting');
    jobStates.set(lost, 'failed');
    await db.prisma.prediction.update({ where: { id: expired }, data: { deadlineAt: new Date(Date.now() - 1) } });
    await recovery.tick(new Date(Date.now() + 2_000));
    expect(await db.prisma.prediction.findUniqueOrThrow({ where: { id: expired } })).toMatchObject({ status: 'failed', error: { code: 'deadline_exceeded' } });
    expect(removed).toContain(expired);
    expect(await db.prisma.prediction.findUniqueOrThrow({ where: { id: lost } })).toMatchObject({ status: 'failed', error: { code: 'prediction_failed' } });
    const types = await db.prisma.predictionEvent.findMany({ where: { predictionId: expired }, orderBy: { seq: 'asc' }, select: { type: true } });
    expect(types.map((e) => e.type)).toEqual(['prediction.created', 'prediction.failed']);
  });
  it('keeps a job that completed between reading the prediction and reading the job (no replace for a finished prediction)', async () => {
    const [raced, stuck] = [await submitted(), await submitted()];
    // A worker finishes `raced` while recovery holds its (now stale) row: the outcome is recorded,
    // then the job completes, and only then does recovery read the job's state.
    onJobState.set(raced, async () => {
      await t.lifecycle.start({ orgId }, raced, 1, new Date());
      await t.lifecycle.succeed({ orgId }, raced, { output: { text: 'done' }, metrics: { queue_time_ms: 0, predict_time_ms: 0, total_time_ms: 0, batch_size: 1 }, models: [], units: 1, unitType: 'image' }, new Date());
    });
    jobStates.set(raced, 'completed');
    // A prediction really left unfinished behind a completed job is replaced.
    jobStates.set(stuck, 'completed');
    removed.length = 0;
    t.enqueued.length = 0;
    const report = await recovery.tick(new Date(Date.now() + 2_000));
    expect(removed).not.toContain(raced);
    expect(t.enqueued.map((j) => j.predictionId)).not.toContain(raced);
    expect(await status(raced)).toBe('succeeded');
    expect(removed).toContain(stuck);
    expect(t.enqueued.map((j) => j.predictionId)).toContain(stuck);
    expect(report.actions.replace).toBe(1);
    onJobState.delete(raced);
    jobStates.set(stuck, 'waiting');
  });
});

describe('retention', () => {
  it('deletes the inputs, outputs and lifecycle events of old predictions and keeps the records', async () => {
    const [old, recent] = [await submitted(), await submitted()];
    for (const id of [old, recent]) {
      await t.lifecycle.start({ orgId }, id, 1, new Date());
      await t.lifecycle.succeed({ orgId }, id, { output: { text: 'secret' }, metrics: { queue_time_ms: 0, predict_time_ms: 0, total_time_ms: 0, batch_size: 1 }, models: [], units: 1, unitType: 'image' }, new Date());
    }
    const longAgo = new Date(Date.now() - 31 * 86_400_000);
    await db.prisma.prediction.update({ where: { id: old }, data: { completedAt: longAgo } });
    await db.prisma.predictionEvent.updateMany({ where: { predictionId: old }, data: { createdAt: longAgo } });
    const result = await recovery.retention(new Date());
    expect(result.purged).toBeGreaterThanOrEqual(1);
    const kept = await db.prisma.prediction.findUniqueOrThrow({ where: { id: old } });
    expect(kept).toMatchObject({ status: 'succeeded', units: 1, output: null });
    expect(kept.purgedAt).not.toBeNull();
    expect(await db.prisma.predictionInput.count({ where: { predictionId: old } })).toBe(0);
    expect(await db.prisma.predictionEvent.count({ where: { predictionId: old } })).toBe(0);
    // The recent one keeps everything.
    expect(await db.prisma.prediction.findUniqueOrThrow({ where: { id: recent } })).toMatchObject({ output: { text: 'secret' }, purgedAt: null });
    expect(await db.prisma.predictionInput.count({ where: { predictionId: recent } })).toBe(1);
    // A second pass has nothing left to do.
    expect((await recovery.retention(new Date())).purged).toBe(0);
    expect(await status(old)).toBe('succeeded');
  });
});

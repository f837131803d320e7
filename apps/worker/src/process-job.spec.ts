// Job processing against the real Postgres and the real OCR model: billing happens once,
// only on success, whatever retries, duplicates and cancellations happen.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { UnrecoverableError } from 'bullmq';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, uuidv7 } from '#libs/db';
import { findShippedModel, OnnxModelHost, type ModelRunner } from '#libs/models';
import { PredictionsRepository } from '#libs/predictions';
import type { InferenceJobData } from '#libs/queue';
import { seedDemo } from '../../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.js';
import { processInferenceJob, type JobDeps } from './process-job.js';

let db: TestDatabase;
let repo: PredictionsRepository;
let host: OnnxModelHost;
let orgId: string;
let apiKeyId: string;
let image: string;
const published: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase('process_job');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: 'p'.repeat(40) });
  orgId = seeded.orgId;
  apiKeyId = seeded.testKey.id;
  repo = new PredictionsRepository(db.prisma);
  host = new OnnxModelHost();
  await host.load(findShippedModel('ppocr-rec')!, { executionProviders: ['cpu'], intraOpThreads: 1 });
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 60_000);

afterAll(async () => {
  await host?.close();
  await db?.drop();
});

async function newJob(input: unknown = { image }): Promise<InferenceJobData> {
  const id = uuidv7();
  const created = await repo.create({ orgId }, { id, apiKeyId, mode: 'test', feature: 'ocr-line', featureVersion: '1', input });
  expect(created).not.toBe('duplicate');
  return { predictionId: id, orgId, apiKeyId, mode: 'test', feature: { name: 'ocr-line', version: '1' }, models: [{ name: 'ppocr-rec', version: '1' }], input, priority: 1, enqueuedAt: Date.now() };
}

function deps(runner: ModelRunner = host): JobDeps {
  return { repo, runner, events: { publishFinished: async (id: string) => void published.push(id) } };
}

const usage = (id: string) => db.prisma.usageEvent.count({ where: { id } });
const status = async (id: string) => (await db.prisma.prediction.findUniqueOrThrow({ where: { id } })).status;

describe('processInferenceJob', () => {
  it('succeeds, bills once, and a duplicate delivery changes nothing', async () => {
    const data = await newJob();
    expect(await processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps())).toBe('succeeded');
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'succeeded', units: 1, output: { text: 'Hello Stratum' } });
    expect(published).toContain(data.predictionId);
    expect(await processInferenceJob({ data, attemptsMade: 1, maxAttempts: 3 }, deps())).toBe('skipped');
    expect(await usage(data.predictionId)).toBe(1);
  });

  it('succeed() is idempotent even when called twice directly', async () => {
    const data = await newJob();
    const result = { output: { text: 'x' }, metrics: { queue_time_ms: 1, predict_time_ms: 1, total_time_ms: 2, batch_size: 1 }, models: [], usage: { apiKeyId, feature: 'ocr-line', units: 1, unitType: 'image', mode: 'test' as const } };
    expect(await repo.succeed({ orgId }, data.predictionId, result, new Date())).toBe(true);
    expect(await repo.succeed({ orgId }, data.predictionId, result, new Date())).toBe(false);
    expect(await usage(data.predictionId)).toBe(1);
  });

  it('fails bad input at once, without retry and without billing', async () => {
    const data = await newJob({ image: Buffer.from('not an image').toString('base64') });
    await expect(processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps())).rejects.toBeInstanceOf(UnrecoverableError);
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'failed', error: { code: 'invalid_input' }, units: null });
    expect(await usage(data.predictionId)).toBe(0);
  });

  it('leaves a transient failure to BullMQ\'s retry, and records failure on the last attempt', async () => {
    const flaky: ModelRunner = { run: async () => Promise.reject(new Error('device lost')) };
    const data = await newJob();
    await expect(processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps(flaky))).rejects.toThrow('device lost');
    expect(await status(data.predictionId)).toBe('processing');
    await expect(processInferenceJob({ data, attemptsMade: 2, maxAttempts: 3 }, deps(flaky))).rejects.toThrow('device lost');
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'failed', error: { code: 'prediction_failed' } });
    expect(JSON.stringify(row.error)).not.toContain('device lost');
    expect(await usage(data.predictionId)).toBe(0);
  });

  it('skips a canceled prediction and bills nothing', async () => {
    const data = await newJob();
    expect(await repo.cancel({ orgId }, data.predictionId, new Date())).toBe(true);
    expect(await processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps())).toBe('skipped');
    expect(await status(data.predictionId)).toBe('canceled');
    expect(await usage(data.predictionId)).toBe(0);
  });

  it('never finds another tenant\'s prediction or the other mode\'s', async () => {
    const data = await newJob();
    expect(await repo.find({ orgId: uuidv7(), mode: 'test' }, data.predictionId)).toBeNull();
    expect(await repo.find({ orgId, mode: 'live' }, data.predictionId)).toBeNull();
    expect(await repo.find({ orgId, mode: 'test' }, data.predictionId)).not.toBeNull();
    expect(await repo.markProcessing({ orgId: uuidv7() }, data.predictionId, new Date())).toBe(false);
  });
});

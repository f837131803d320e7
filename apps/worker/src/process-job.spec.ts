// Job processing against the real Postgres and the real OCR model: billing happens once,
// only on success, whatever retries, duplicates and cancellations happen.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { UnrecoverableError } from 'bullmq';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, uuidv7 } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { findShippedModel } from '#model-service/model-format';
import { OnnxModelHost } from '#model-service/runtime';
import type { ModelRunner } from '#model-service/tensors';
import type { PredictionLifecycle, PredictionsRepository } from '#platform/predictions';
import type { InferenceJobData } from '#infra/queue';
import { seedDemo } from '../../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.js';
import { testLifecycle, type TestLifecycle } from '../../../test/support/lifecycle.js';
import { processInferenceJob, type JobDeps } from './process-job.js';

let db: TestDatabase;
let t: TestLifecycle;
let repo: PredictionsRepository;
let lifecycle: PredictionLifecycle;
let host: OnnxModelHost;
let orgId: string;
let apiKeyId: string;
let image: string;

beforeAll(async () => {
  db = await createTestDatabase('process_job');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: 'p'.repeat(40) });
  orgId = seeded.orgId;
  apiKeyId = seeded.testKey.id;
  t = testLifecycle(db.prisma);
  ({ repo, lifecycle } = t);
  host = new OnnxModelHost();
  await host.load(findShippedModel('ppocr-rec')!, { executionProviders: ['cpu'], intraOpThreads: 1 });
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 60_000);

afterAll(async () => {
  await host?.close();
  await db?.drop();
});

const submitter = () => ({ orgId, apiKeyId, mode: 'test' as const, priority: 1 });

/** Submits through the lifecycle (input stored in Postgres) and returns the job it enqueued: ids, no input. */
async function newJob(input: unknown = { image }): Promise<InferenceJobData> {
  const { record } = await lifecycle.submit(submitter(), { feature: 'ocr-line', featureVersion: '1', pool: 'ppocr-rec', models: [{ name: 'ppocr-rec', version: '1' }], spec: { kind: 'feature' }, input }, { waitMs: null });
  const job = t.enqueued.find((j) => j.predictionId === record.id)!;
  expect(JSON.stringify(job)).not.toContain(typeof input === 'object' && input && 'image' in input ? String((input as { image: string }).image).slice(0, 32) : '\u0000');
  return job;
}

function deps(runner: ModelRunner = host): JobDeps {
  return { lifecycle, runner };
}

/** Usage events of a prediction, once the usage consumer has read every committed lifecycle event. */
const usage = async (id: string) => {
  await t.drainUsage();
  return db.prisma.usageEvent.count({ where: { id } });
};
const eventTypes = async (id: string) => (await db.prisma.predictionEvent.findMany({ where: { predictionId: id }, orderBy: { seq: 'asc' } })).map((e) => e.type);
const status = async (id: string) => (await db.prisma.prediction.findUniqueOrThrow({ where: { id } })).status;

describe('processInferenceJob', () => {
  it('succeeds, bills once, and a duplicate delivery changes nothing', async () => {
    const data = await newJob();
    expect(await processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps())).toBe('succeeded');
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'succeeded', units: 1, output: { text: 'Hello Stratum' } });
    expect(t.announced).toContain(data.predictionId);
    expect(await processInferenceJob({ data, attemptsMade: 1, maxAttempts: 3 }, deps())).toBe('skipped');
    expect(await usage(data.predictionId)).toBe(1);
    expect(await db.prisma.usageEvent.findUniqueOrThrow({ where: { id: data.predictionId } })).toMatchObject({ orgId, apiKeyId, feature: 'ocr-line', units: 1, unitType: 'image', mode: 'test' });
    expect(await eventTypes(data.predictionId)).toEqual(['prediction.created', 'prediction.started', 'prediction.succeeded']);
  });

  it('records the sha256 of the model artifact that served it (the audit trail)', async () => {
    const data = await newJob();
    const digest = host.status().find((m) => m.name === 'ppocr-rec' && m.version === '1')?.sha256;
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(await processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, { ...deps(), modelDigest: (ref) => host.status().find((m) => m.name === ref.name && m.version === ref.version)?.sha256 })).toBe('succeeded');
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row.models).toEqual([{ name: 'ppocr-rec', version: '1', sha256: digest }]);
  });

  it('succeed() is idempotent even when called twice directly', async () => {
    const data = await newJob();
    const result = { output: { text: 'x' }, metrics: { queue_time_ms: 1, predict_time_ms: 1, total_time_ms: 2, batch_size: 1 }, models: [], units: 1, unitType: 'image' };
    expect(await lifecycle.succeed({ orgId }, data.predictionId, result, new Date())).toBe(false); // not started: refused
    expect(await lifecycle.start({ orgId }, data.predictionId, 1, new Date())).toEqual({ input: { image } });
    expect(await lifecycle.succeed({ orgId }, data.predictionId, result, new Date())).toBe(true);
    expect(await lifecycle.succeed({ orgId }, data.predictionId, result, new Date())).toBe(false);
    expect(await usage(data.predictionId)).toBe(1);
  });

  it('fails bad input at once, without retry and without billing', async () => {
    const data = await newJob({ image: Buffer.from('not an image').toString('base64') });
    await expect(processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps())).rejects.toBeInstanceOf(UnrecoverableError);
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'failed', error: { code: 'invalid_input' }, units: null });
    expect(await usage(data.predictionId)).toBe(0);
    expect(await eventTypes(data.predictionId)).toEqual(['prediction.created', 'prediction.started', 'prediction.failed']);
  });

  it('fails at once as invalid_input when the input exhausts the stack (a RangeError comes back on every retry; issue 9 item 10)', async () => {
    const exhausted: ModelRunner = { run: async () => Promise.reject(new RangeError('Maximum call stack size exceeded')) };
    const data = await newJob();
    await expect(processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps(exhausted))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } })).toMatchObject({ status: 'failed', error: { code: 'invalid_input' } });
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

  it('records model_unavailable (not prediction_failed) when the model could not be loaded', async () => {
    const cold: ModelRunner = { run: async () => Promise.reject(new ProblemError('model_unavailable', 'Model ppocr-rec@1 is not ready')) };
    const data = await newJob();
    await expect(processInferenceJob({ data, attemptsMade: 2, maxAttempts: 3 }, deps(cold))).rejects.toMatchObject({ code: 'model_unavailable' });
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'failed', error: { code: 'model_unavailable' }, units: null });
    expect(await usage(data.predictionId)).toBe(0);
  });

  it('skips a canceled prediction and bills nothing', async () => {
    const data = await newJob();
    expect((await lifecycle.cancel({ orgId, mode: 'test' }, data.predictionId, new Date()))?.status).toBe('canceled');
    expect(await processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps())).toBe('skipped');
    expect(await status(data.predictionId)).toBe('canceled');
    expect(await usage(data.predictionId)).toBe(0);
  });

  it('a prediction canceled while its model is running ends canceled and unbilled', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let running!: () => void;
    const entered = new Promise<void>((resolve) => (running = resolve));
    const slow: ModelRunner = {
      run: async (ref, feeds) => {
        running();
        await gate;
        return host.run(ref, feeds);
      },
    };
    const data = await newJob();
    const outcome = processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps(slow));
    await entered;
    expect(await status(data.predictionId)).toBe('processing');
    expect((await lifecycle.cancel({ orgId, mode: 'test' }, data.predictionId, new Date()))?.status).toBe('canceled');
    release();
    expect(await outcome).toBe('skipped');
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'canceled', units: null, output: null });
    expect(await usage(data.predictionId)).toBe(0);
    expect(await eventTypes(data.predictionId)).toEqual(['prediction.created', 'prediction.started', 'prediction.canceled']);
  });

  it('never finds another tenant\'s prediction or the other mode\'s', async () => {
    const data = await newJob();
    expect(await repo.find({ orgId: uuidv7(), mode: 'test' }, data.predictionId)).toBeNull();
    expect(await repo.find({ orgId, mode: 'live' }, data.predictionId)).toBeNull();
    expect(await repo.find({ orgId, mode: 'test' }, data.predictionId)).not.toBeNull();
    expect(await lifecycle.start({ orgId: uuidv7() }, data.predictionId, 1, new Date())).toBeNull();
    expect(await lifecycle.cancel({ orgId, mode: 'live' }, data.predictionId, new Date())).toBeNull();
    expect(await status(data.predictionId)).toBe('starting');
  });
});

describe('processInferenceJob with a tensor job (v2 infer)', () => {
  async function newTensorJob(): Promise<InferenceJobData> {
    const inputs = { x: { dtype: 'float32' as const, dims: [1, 2], data: [1, 2] } };
    const model = { namespace: 'platform', name: 'm', version: '1', artifactUri: 'builtin:m', sha256: 'x' };
    const { record } = await lifecycle.submit(submitter(), { feature: 'model:m', featureVersion: '1', pool: 'tiny', models: [{ name: 'm', version: '1' }], spec: { kind: 'tensor', model, outputs: ['y'] }, input: { inputs, outputs: ['y'] } }, { waitMs: null });
    const job = t.enqueued.find((j) => j.predictionId === record.id)!;
    expect(job).toMatchObject({ kind: 'tensor', model, outputs: ['y'] });
    expect(job).not.toHaveProperty('inputs');
    return job;
  }

  it('runs the model through the runner, keeps only the outputs asked for, and bills one call', async () => {
    const seen: string[] = [];
    const runner: ModelRunner = {
      run: async (ref, feeds) => {
        seen.push(`${ref.name}@${ref.version}:${Array.from(feeds.x!.data as Float32Array).join(',')}`);
        return { y: { dtype: 'float32', dims: [1, 2], data: Float32Array.from([3, 4]) }, z: { dtype: 'int64', dims: [1], data: BigInt64Array.from([7n]) } };
      },
    };
    const data = await newTensorJob();
    expect(await processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps(runner))).toBe('succeeded');
    expect(seen).toEqual(['m@1:1,2']);
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'succeeded', units: 1, output: { outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2], data: [3, 4] }] } });
    expect(await usage(data.predictionId)).toBe(1);
    expect(await db.prisma.usageEvent.findUniqueOrThrow({ where: { id: data.predictionId } })).toMatchObject({ feature: 'model:m', units: 1, unitType: 'call', mode: 'test' });
  });

  it('fails at once with model_error when the model throws at run time, without billing', async () => {
    const broken: ModelRunner = { run: async () => Promise.reject(new Error('Non-zero status code returned while running Add node')) };
    const data = await newTensorJob();
    await expect(processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, deps(broken))).rejects.toBeInstanceOf(UnrecoverableError);
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'failed', error: { code: 'model_error', message: 'The model failed on this input: Non-zero status code returned while running Add node' } });
    expect(await usage(data.predictionId)).toBe(0);
  });

  it('retries a model that could not be loaded and records model_unavailable on the last attempt', async () => {
    const data = await newTensorJob();
    const leases = { acquire: async () => Promise.reject(new ProblemError('model_unavailable', 'Model org/m@1: its artifact is not in this worker\'s model storage')) };
    await expect(processInferenceJob({ data, attemptsMade: 0, maxAttempts: 3 }, { ...deps(), models: leases })).rejects.toMatchObject({ code: 'model_unavailable' });
    expect(await status(data.predictionId)).toBe('processing');
    await expect(processInferenceJob({ data, attemptsMade: 2, maxAttempts: 3 }, { ...deps(), models: leases })).rejects.toMatchObject({ code: 'model_unavailable' });
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: data.predictionId } });
    expect(row).toMatchObject({ status: 'failed', error: { code: 'model_unavailable' } });
    expect(await usage(data.predictionId)).toBe(0);
  });
});

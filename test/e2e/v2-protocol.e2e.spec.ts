// The Open Inference Protocol (KServe v2) end to end: a gateway and a worker as real processes
// serve the tiny classifier from a MODEL_REPOSITORY; health, metadata, readiness and infer
// answer in the protocol's shapes with exact outputs; bad tensors are refused with the
// protocol's `error` before anything is enqueued; test keys are never billed, live keys once.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7 } from '#infra/db';
import { tinyClassifierReference, TINY_CLASSIFIER_SPEC, writeTinyRepository, type TinyClassifierSpec } from '#tools/model-builders';
import { seedDemo } from '../../scripts/seed.js';
import { consumerCaughtUp } from '../support/lifecycle.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';
import { insertApiKey, insertOrg } from '../support/keys.js';

const PEPPER = 'e2e-v2-pepper-' + 'x'.repeat(32);
// Version 2 has other weights than version 1, so the outputs tell which version ran.
const SPEC_V2: TinyClassifierSpec = { ...TINY_CLASSIFIER_SPEC, bias: [-0.4, 0.9, 0.1] };
let db: TestDatabase;
let gateway: RunningApp;
let worker: RunningApp;
let testKey: string;
let liveKey: string;
let otherKey: string;
let orgId: string;
let prefix: string;
let repo: string;

interface Answer {
  status: number;
  type: string | null;
  headers: Headers;
  json: any;
}

async function call(method: 'GET' | 'POST', path: string, key: string | null = testKey, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(gateway.url + path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), headers: res.headers, json: text ? JSON.parse(text) : null };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expectClose(actual: number[], expected: ArrayLike<number>): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
}

const X = [0.5, -1, 2, 0.25, 1, 1, -0.5, 3];
const inferBody = (over: Record<string, unknown> = {}) => ({ id: 'req-42', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: X }], ...over });

beforeAll(async () => {
  db = await createTestDatabase('e2e_v2');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(tmpdir(), `stratum-e2e-v2-${randomBytes(4).toString('hex')}.json`) });
  testKey = seeded.testKey.secret!;
  liveKey = seeded.liveKey.secret!;
  orgId = seeded.orgId;
  const other = await insertOrg(db.prisma, 'other-v2', 'Other');
  otherKey = (await insertApiKey(db.prisma, PEPPER, other.id, { mode: 'test', name: 'other' })).secret;
  // Another organization's own model: invisible to the demo organization.
  await db.prisma.model.create({ data: { id: uuidv7(), orgId: other.id, namespace: other.id, name: 'their-model', pool: 'tenant' } });

  repo = writeTinyRepository(mkdtempSync(join(tmpdir(), 'stratum-e2e-v2-repo-')), [{ name: 'tiny-classifier', versions: ['1'], config: { default_version: '1' } }]);
  writeTinyRepository(repo, [{ name: 'tiny-classifier', versions: ['2'], spec: SPEC_V2, config: { default_version: '1' } }]);
  prefix = `e2ev2_${randomBytes(4).toString('hex')}`;
  const env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '3',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    MODEL_REPOSITORY: repo,
    MODEL_STORAGE_DIR: join(repo, '.storage'),
    WORKER_POOLS: 'tiny',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  [gateway, worker] = await Promise.all([startApp('gateway', env), startApp('worker', env)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), worker?.stop()]);
  await db?.drop();
  await dropRedisPrefix(prefix);
  if (repo) rmSync(repo, { recursive: true, force: true });
});

describe('health and metadata', () => {
  it('answers liveness and readiness (no key needed), and the server metadata (401 without a key)', async () => {
    expect(await call('GET', '/v2/health/live')).toMatchObject({ status: 200, json: { live: true } });
    const ready = await until('the server to be ready', async () => {
      const r = await call('GET', '/v2/health/ready');
      return r.status === 200 ? r : undefined;
    });
    // The verdict only (the reasons are on the admin listener); probes call it without a key.
    expect(ready.json).toEqual({ ready: true });
    expect(await call('GET', '/v2/health/ready', null)).toMatchObject({ status: 200, json: { ready: true } });
    expect(await call('GET', '/v2/health/live', null)).toMatchObject({ status: 200, json: { live: true } });
    expect((await call('GET', '/v2')).json).toEqual({ name: 'stratum', version: '1', extensions: [] });
    const anonymous = await call('GET', '/v2', null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.type).toMatch(/^application\/problem\+json/);
    // Every v2 problem carries the protocol's `error`, whatever raised it (here the key guard).
    expect(anonymous.json.error).toBe(anonymous.json.detail);
  });

  it('describes a model (default version) and one version with v2 datatypes and -1 for dynamic dimensions', async () => {
    const meta = await call('GET', '/v2/models/tiny-classifier');
    expect(meta.status).toBe(200);
    expect(meta.json).toEqual({
      name: 'tiny-classifier',
      versions: ['1', '2'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'probs', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect((await call('GET', '/v2/models/tiny-classifier/versions/2')).json).toMatchObject({ name: 'tiny-classifier', inputs: [{ name: 'x' }] });
  });

  it('says a model version is ready once a live worker holds it warm', async () => {
    for (const path of ['/v2/models/tiny-classifier/ready', '/v2/models/tiny-classifier/versions/2/ready']) {
      const r = await until(`${path} to be 200`, async () => {
        const a = await call('GET', path);
        return a.status === 200 ? a : undefined;
      });
      expect(r.json).toMatchObject({ name: 'tiny-classifier', ready: true });
    }
    // No worker serves the pool of the OCR models here.
    const cold = await call('GET', '/v2/models/ppocr-rec/ready');
    expect(cold.status).toBe(503);
    expect(cold.json).toMatchObject({ code: 'model_unavailable', error: expect.stringContaining('not ready') });
  });
});

describe('infer', () => {
  it('runs the default version and answers the exact outputs with the request id', async () => {
    const r = await call('POST', '/v2/models/tiny-classifier/infer', testKey, inferBody());
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ model_name: 'tiny-classifier', model_version: '1', id: 'req-42' });
    expect(r.json.outputs).toHaveLength(1);
    expect(r.json.outputs[0]).toMatchObject({ name: 'probs', datatype: 'FP32', shape: [2, 3] });
    expectClose(r.json.outputs[0].data, tinyClassifierReference(TINY_CLASSIFIER_SPEC.weights, TINY_CLASSIFIER_SPEC.bias, X));
    expect(r.headers.get('x-prediction-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('runs the version asked for, takes nested data, asks for named outputs, and uses the prediction id without a request id', async () => {
    const nested = [X.slice(0, 4), X.slice(4)];
    const r = await call('POST', '/v2/models/tiny-classifier/versions/2/infer', testKey, { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: nested }], outputs: [{ name: 'probs' }] });
    expect(r.status).toBe(200);
    expect(r.json.model_version).toBe('2');
    expect(r.json.id).toBe(r.headers.get('x-prediction-id'));
    expectClose(r.json.outputs[0].data, tinyClassifierReference(SPEC_V2.weights, SPEC_V2.bias, X));
  });

  it('refuses bad tensors with 422/413 problem+json carrying the protocol error, and enqueues nothing', async () => {
    const before = await db.prisma.prediction.count();
    const cases: [string, unknown, number, string][] = [
      ['a wrong shape', inferBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 5], data: new Array(10).fill(0) }] }), 422, 'invalid_tensor'],
      ['a wrong datatype', inferBody({ inputs: [{ name: 'x', datatype: 'INT64', shape: [2, 4], data: new Array(8).fill(1) }] }), 422, 'invalid_tensor'],
      ['a wrong name', inferBody({ inputs: [{ name: 'y', datatype: 'FP32', shape: [2, 4], data: X }] }), 422, 'invalid_tensor'],
      ['a value beyond FP32 (Inf once cast)', inferBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 1e39] }] }), 422, 'invalid_tensor'],
      ['data that does not fill the shape', inferBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: [1, 2] }] }), 422, 'invalid_tensor'],
      ['an unknown output', inferBody({ outputs: [{ name: 'logits' }] }), 422, 'invalid_tensor'],
      ['more elements than the limit', inferBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [300_000, 4], data: [] }] }), 413, 'payload_too_large'],
    ];
    for (const [what, body, status, code] of cases) {
      const r = await call('POST', '/v2/models/tiny-classifier/infer', testKey, body);
      expect({ what, status: r.status, code: r.json.code }).toEqual({ what, status, code });
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(typeof r.json.error).toBe('string');
      expect(r.json.error).toBe(r.json.detail);
    }
    // A body that is not JSON is refused before any handler, still in the protocol's shape.
    const raw = await fetch(`${gateway.url}/v2/models/tiny-classifier/infer`, { method: 'POST', headers: { authorization: `Bearer ${testKey}`, 'content-type': 'application/json' }, body: '{"inputs": [' });
    const malformed = (await raw.json()) as { code: string; error: string; detail: string };
    expect({ status: raw.status, code: malformed.code }).toEqual({ status: 400, code: 'malformed_json' });
    expect(malformed.error).toBe(malformed.detail);
    expect(await db.prisma.prediction.count()).toBe(before);
  });

  it('answers 404 with the protocol error for an unknown model, an unknown version and another organization\'s model', async () => {
    for (const [method, path] of [
      ['POST', '/v2/models/no-such-model/infer'],
      ['GET', '/v2/models/no-such-model'],
      ['GET', '/v2/models/tiny-classifier/versions/9'],
      ['POST', '/v2/models/tiny-classifier/versions/9/infer'],
      ['POST', '/v2/models/their-model/infer'],
      ['GET', '/v2/models/their-model/ready'],
    ] as const) {
      const r = await call(method, path, testKey, method === 'POST' ? inferBody() : undefined);
      expect({ path, status: r.status, code: r.json.code }).toEqual({ path, status: 404, code: 'model_not_found' });
      expect(r.json.error).toMatch(/not found/);
    }
    // Another organization's key sees the platform model, and its own.
    expect((await call('POST', '/v2/models/tiny-classifier/infer', otherKey, inferBody())).status).toBe(200);
  });

  it('meters like predictions: one call per success, a live key billed once, a test key never', async () => {
    const live = await call('POST', '/v2/models/tiny-classifier/infer', liveKey, inferBody());
    expect(live.status).toBe(200);
    const liveId = live.headers.get('x-prediction-id')!;
    const test = await call('POST', '/v2/models/tiny-classifier/infer', testKey, inferBody());
    const testId = test.headers.get('x-prediction-id')!;
    await consumerCaughtUp(db.prisma);
    const liveEvents = await db.prisma.usageEvent.findMany({ where: { id: liveId } });
    expect(liveEvents).toEqual([expect.objectContaining({ orgId, feature: 'model:tiny-classifier', units: 1, unitType: 'call', mode: 'live' })]);
    expect(await db.prisma.usageEvent.count({ where: { id: testId, mode: 'live' } })).toBe(0);
    expect(await db.prisma.usageEvent.count({ where: { orgId, mode: 'live' } })).toBe(1);
    // The prediction records what ran; GET /v1/predictions/{id} shows it to the key's mode.
    const p = await call('GET', `/v1/predictions/${liveId}`, liveKey);
    expect(p.json).toMatchObject({ id: liveId, feature: 'model:tiny-classifier', version: '1', status: 'succeeded', units: 1 });
  });
});

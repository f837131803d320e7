// The foundation end to end: gateway and worker as real processes (as `npm start` runs
// them), real Postgres and Redis, the real PaddleOCR model, a seeded API key.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '#platform/api-keys';
import { repoRoot, uuidv7 } from '#infra/db';
import { seedDemo } from '../../scripts/seed.js';
import { consumerCaughtUp } from '../support/lifecycle.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { freePort, startApp, waitAlive, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';
import { insertApiKey, insertOrg } from '../support/keys.js';

const PEPPER = 'e2e-pepper-' + 'x'.repeat(32);
const BODY_LIMIT = 2 * 1024 * 1024;

let db: TestDatabase;
let gateway: RunningApp;
let worker: RunningApp;
let liveKey: string;
let testKey: string;
let otherOrgKey: string;
let revokedKey: string;
let prefix: string;
let image: string;
/** A test-mode prediction (made with the test key by the first test), for the separation checks. */
let testPredictionId: string;

async function api(path: string, init: { method?: string; key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.key !== null) headers['authorization'] = `Bearer ${init.key ?? testKey}`;
  let body: string | undefined = init.raw;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(gateway.url + path, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}

function expectProblem(r: Awaited<ReturnType<typeof api>>, status: number, code: string) {
  expect({ status: r.status, code: r.json?.code }).toEqual({ status, code });
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  // The type is a page of the gateway about the code.
  expect(r.json.type).toBe(`/problems/${code}`);
  expect(r.json.title).toEqual(expect.any(String));
  expect(r.json.detail).toEqual(expect.any(String));
  expect(r.json.requestId).toBe(r.headers.get('x-request-id'));
}

/** The usage events of a prediction, once the gateway's usage consumer has read every lifecycle event. */
async function usageEvents(id: string) {
  await consumerCaughtUp(db.prisma);
  return db.prisma.usageEvent.findMany({ where: { id } });
}

beforeAll(async () => {
  db = await createTestDatabase('e2e');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(tmpdir(), `stratum-e2e-${randomBytes(4).toString('hex')}.json`) });
  liveKey = seeded.liveKey.secret!;
  testKey = seeded.testKey.secret!;

  // A second tenant, and a revoked key of the first.
  const other = await insertOrg(db.prisma, 'other', 'Other Inc');
  otherOrgKey = (await insertApiKey(db.prisma, PEPPER, other.id, { mode: 'test', name: 'other' })).secret;
  revokedKey = (await insertApiKey(db.prisma, PEPPER, seeded.orgId, { name: 'revoked', revokedAt: new Date() })).secret;

  prefix = `e2e_${randomBytes(4).toString('hex')}`;
  const env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    BODY_LIMIT_BYTES: String(BODY_LIMIT),
    WORKER_CONCURRENCY: '2',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  [gateway, worker] = await Promise.all([startApp('gateway', env), startApp('worker', env, { timeoutMs: 60_000 })]);
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 120_000);

afterAll(async () => {
  const codes = await Promise.all([gateway?.stop(), worker?.stop()]);
  await db?.drop();
  await dropRedisPrefix(prefix);
  // A clean shutdown on SIGTERM exits 0.
  expect(codes).toEqual([0, 0]);
});

describe('a real prediction', () => {
  it('runs the OCR model and answers with the result when asked to wait', async () => {
    const r = await api('/v1/predictions', { key: testKey, body: { feature: 'ocr-line', input: { image } }, headers: { prefer: 'wait=30' } });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-request-id')).toMatch(/\S{8,}/);
    expect(r.headers.get('location')).toBe(`${gateway.url}/v1/predictions/${r.json.id}`);
    expect(r.json).toMatchObject({
      object: 'prediction',
      feature: 'ocr-line',
      version: '1',
      status: 'succeeded',
      mode: 'test',
      output: { text: 'Hello Stratum' },
      error: null,
      units: 1,
      models: [{ name: 'ppocr-rec', version: '1' }],
    });
    expect(r.json.output.confidence).toBeGreaterThan(0.9);
    expect(r.json.metrics).toEqual({ queue_time_ms: expect.any(Number), predict_time_ms: expect.any(Number), total_time_ms: expect.any(Number), batch_size: 1, steps_ms: { decode: expect.any(Number), tensor: expect.any(Number), recognise: expect.any(Number), text: expect.any(Number) } });
    const usage = await usageEvents(r.json.id);
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ units: 1, unitType: 'image', mode: 'test', feature: 'ocr-line' });

    const again = await api(`/v1/predictions/${r.json.id}`);
    expect(again.status).toBe(200);
    expect(again.json).toEqual(r.json);
    testPredictionId = r.json.id;
  });

  it('answers 202 at once without Prefer, and the prediction completes', async () => {
    const r = await api('/v1/predictions', { key: liveKey, body: { feature: 'ocr-line', input: { image } } });
    expect(r.status).toBe(202);
    expect(['starting', 'processing', 'succeeded']).toContain(r.json.status);
    let p = r.json;
    for (let i = 0; i < 300 && !['succeeded', 'failed', 'canceled'].includes(p.status); i++) {
      await new Promise((res) => setTimeout(res, 50));
      p = (await api(`/v1/predictions/${r.json.id}`, { key: liveKey })).json;
    }
    expect(p).toMatchObject({ status: 'succeeded', mode: 'live', output: { text: 'Hello Stratum' } });
    expect(await usageEvents(p.id)).toHaveLength(1);

    const list = await api('/v1/predictions?limit=1', { key: liveKey });
    expect(list.json).toMatchObject({ object: 'list', has_more: false });
    expect(list.json.data.map((x: { id: string }) => x.id)).toEqual([p.id]);

    // Test and live never see each other's predictions, each asserted directly (not through has_more).
    for (const [method, suffix] of [
      ['GET', ''],
      ['POST', '/cancel'],
    ] as const) {
      expectProblem(await api(`/v1/predictions/${p.id}${suffix}`, { key: testKey, method }), 404, 'prediction_not_found');
      expectProblem(await api(`/v1/predictions/${testPredictionId}${suffix}`, { key: liveKey, method }), 404, 'prediction_not_found');
    }
    const testList = await api('/v1/predictions?limit=100', { key: testKey });
    expect(testList.status).toBe(200);
    const testIds = testList.json.data.map((x: { id: string }) => x.id);
    expect(testIds).toContain(testPredictionId);
    expect(testIds).not.toContain(p.id);
    expect(testList.json.data.every((x: { mode: string }) => x.mode === 'test')).toBe(true);
    const liveList = await api('/v1/predictions?limit=100', { key: liveKey });
    expect(liveList.json.data.map((x: { id: string }) => x.id)).toEqual([p.id]);
    // A cursor naming the other mode's prediction does not reveal it either.
    expect(JSON.stringify((await api(`/v1/predictions?limit=100&starting_after=${p.id}`, { key: testKey })).json)).not.toContain(p.id);
  });

  it('fails a prediction whose image cannot be decoded, and bills nothing', async () => {
    const r = await api('/v1/predictions', { body: { feature: 'ocr-line', input: { image: Buffer.from('definitely not a png').toString('base64') } }, headers: { prefer: 'wait=30' } });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ status: 'failed', output: null, units: null, error: { code: 'invalid_input' } });
    expect(await usageEvents(r.json.id)).toHaveLength(0);
  });

  it('replays the first prediction for a repeated Idempotency-Key', async () => {
    const headers = { prefer: 'wait=30', 'idempotency-key': `idem-${randomBytes(4).toString('hex')}` };
    const first = await api('/v1/predictions', { body: { feature: 'ocr-line', input: { image } }, headers });
    const second = await api('/v1/predictions', { body: { feature: 'ocr-line', input: { image } }, headers });
    expect(first.status).toBe(201);
    // The original status and body, marked as a replay (the Idempotency suite covers the rest).
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.json).toEqual(first.json);
    expect(await usageEvents(first.json.id)).toHaveLength(1);
  });
});

describe('errors are problem+json with a stable code', () => {
  it('400 for malformed JSON', async () => {
    expectProblem(await api('/v1/predictions', { raw: '{"feature": "ocr-line", ', headers: { 'content-type': 'application/json' } }), 400, 'malformed_json');
  });

  it('401, identical, for a missing, malformed, unknown or revoked key', async () => {
    const body = { feature: 'ocr-line', input: { image } };
    const unknown = generateApiKey('live').secret;
    const answers = [await api('/v1/predictions', { key: null, body }), await api('/v1/predictions', { key: 'sk_live_short', body }), await api('/v1/predictions', { key: unknown, body }), await api('/v1/predictions', { key: revokedKey, body })];
    for (const a of answers) expectProblem(a, 401, 'unauthenticated');
    const strip = (j: Record<string, unknown>) => ({ ...j, requestId: undefined });
    expect(new Set(answers.map((a) => JSON.stringify(strip(a.json)))).size).toBe(1);
  });

  it('404 for an unknown feature, an unknown prediction and another tenant\'s prediction', async () => {
    expectProblem(await api('/v1/predictions', { body: { feature: 'no-such-feature', input: {} } }), 404, 'feature_not_found');
    expectProblem(await api(`/v1/predictions/${uuidv7()}`), 404, 'prediction_not_found');
    expectProblem(await api('/v1/predictions/not-a-uuid'), 404, 'prediction_not_found');
    const mine = await api('/v1/predictions', { body: { feature: 'ocr-line', input: { image } } });
    expect(mine.status).toBe(202);
    const theirs = await api(`/v1/predictions/${mine.json.id}`, { key: otherOrgKey });
    expectProblem(theirs, 404, 'prediction_not_found');
    expectProblem(await api(`/v1/predictions/${mine.json.id}/cancel`, { method: 'POST', key: otherOrgKey }), 404, 'prediction_not_found');
    expectProblem(await api('/v1/nothing-here'), 404, 'route_not_found');
  });

  it('413 for a body over the limit, received by a client that sends the whole body first', async () => {
    const big = JSON.stringify({ feature: 'ocr-line', input: { image: 'A'.repeat(BODY_LIMIT + 1024) } });
    // fetch writes the body before it reads: the gateway answers from the Content-Length and
    // drains the rest, so the answer arrives (no reset) and the connection is not closed.
    for (let i = 0; i < 3; i++) {
      const res = await api('/v1/predictions', { raw: big, headers: { 'content-type': 'application/json' } });
      expectProblem(res, 413, 'payload_too_large');
      expect(res.headers.get('connection')).not.toBe('close');
    }
  });

  it('415 for a body that is not JSON', async () => {
    expectProblem(await api('/v1/predictions', { raw: 'feature=ocr-line', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
  });

  it('422 with the failing paths for input that fails the schema', async () => {
    const missing = await api('/v1/predictions', { body: { feature: 'ocr-line', input: { picture: 'x' } } });
    expectProblem(missing, 422, 'validation_failed');
    expect(missing.json.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['/input/image', '/input/picture']));
    const envelope = await api('/v1/predictions', { body: { feature: 'ocr-line', input: 'x', extra: 1 } });
    expectProblem(envelope, 422, 'validation_failed');
    expect(envelope.json.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['/input']));
  });

  it('503 with Retry-After when the queue is unreachable, and nothing is left behind', async () => {
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const lonely = await startApp('gateway', { DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema, REDIS_URL: deadRedis, REDIS_PREFIX: prefix, API_KEY_PEPPER: PEPPER, LOG_LEVEL: 'fatal' }, { waitReady: false });
    try {
      await waitAlive(lonely);
      expect((await fetch(`${lonely.url}/readyz`)).status).toBe(503);
      const before = await db.prisma.prediction.count();
      const res = await fetch(`${lonely.url}/v1/predictions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${testKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ feature: 'ocr-line', input: { image } }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await res.json()) as { code: string }).code).toBe('queue_unavailable');
      expect(await db.prisma.prediction.count()).toBe(before);
    } finally {
      await lonely.stop();
    }
  });
});

describe('a database outage', () => {
  it('answers 503 with Retry-After, not a 500 or a hang', async () => {
    const deadDb = `postgresql://postgres@127.0.0.1:${await freePort()}/nothing`;
    const lonely = await startApp('gateway', { DATABASE_URL: deadDb, REDIS_PREFIX: prefix, API_KEY_PEPPER: PEPPER, LOG_LEVEL: 'fatal' }, { waitReady: false });
    try {
      await waitAlive(lonely);
      const ready = await fetch(`${lonely.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'not_ready' });
      const details = await fetch(`${lonely.adminUrl}/readyz`);
      expect(details.status).toBe(503);
      expect(((await details.json()) as { checks: Record<string, string> }).checks.postgres).not.toBe('ok');
      const res = await fetch(`${lonely.url}/v1/predictions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${testKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ feature: 'ocr-line', input: { image } }),
        signal: AbortSignal.timeout(15_000),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as { code: string }).code).toBe('service_unavailable');
    } finally {
      await lonely.stop();
    }
  });
});

describe('features, health and metrics', () => {
  it('lists the features with their input schema and price', async () => {
    const r = await api('/v1/features');
    expect(r.status).toBe(200);
    const ocr = r.json.data.find((f: { name: string }) => f.name === 'ocr-line');
    expect(ocr).toMatchObject({ version: '1', price: { units: 1, unit_type: 'image' }, input_schema: { type: 'object' } });
    expect((await api('/v1/features/ocr-line')).json.name).toBe('ocr-line');
  });

  it('serves /healthz, /readyz, /openapi.json, and /metrics on the admin listener', async () => {
    for (const app of [gateway, worker]) {
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${app.url}/readyz`);
      expect(ready.status).toBe(200);
    }
    const workerReady = (await (await fetch(`${worker.adminUrl}/readyz`)).json()) as { checks: Record<string, string> };
    expect(workerReady.checks).toEqual({ 'feature-versions': 'ok', models: 'ok', postgres: 'ok', redis: 'ok' });

    const openapi = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/v1/predictions', '/v1/predictions/{id}', '/v1/features']));
    expect(openapi.components.schemas).toHaveProperty('Input_ocr_line_v1');

    const gm = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(gm).toMatch(/stratum_http_request_duration_seconds_count\{[^}]*route="\/v1\/predictions"[^}]*status="201"/);
    // Each route observes under its pattern; a request for no route under "unmatched" (the 404s above).
    expect(gm).toMatch(/stratum_http_request_duration_seconds_count\{[^}]*route="\/v1\/predictions\/:id"[^}]*status="404"/);
    expect(gm).toMatch(/stratum_http_request_duration_seconds_count\{[^}]*route="unmatched"[^}]*status="404"[^}]*\} [1-9]/);
    expect(gm).toMatch(/stratum_queue_jobs\{[^}]*pool="ocr"/);
    expect(gm).toContain('stratum_process_cpu_seconds_total');
    const wm = await (await fetch(`${worker.adminUrl}/metrics`)).text();
    expect(wm).toMatch(/stratum_inference_duration_seconds_count\{[^}]*model="ppocr-rec"[^}]*\} [1-9]/);
    expect(wm).toMatch(/stratum_job_wait_seconds_count\{[^}]*pool="ocr"[^}]*\} [1-9]/);
    expect(wm).toMatch(/stratum_model_execution_provider\{[^}]*provider="cpu"[^}]*\} 1/);
  });
});

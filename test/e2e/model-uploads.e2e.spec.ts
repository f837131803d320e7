// Tenants' own models end to end: an organization uploads ONNX files to a gateway process
// (streamed, size-limited by its plan, validated in an isolated process); a worker process
// serving the tenant pool loads the version on its first call from the shared storage
// directory. Only that organization can call it through /v2; hostile files are refused with
// their reason and the gateway keeps answering; a model that throws at run time fails that
// call only.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { PrismaClient } from '#infra/db';
import { buildTinyClassifier, floatValueInfo, tinyClassifierReference, TINY_CLASSIFIER_SPEC, type TinyClassifierSpec } from '#tools/model-builders';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';
import { insertApiKey, insertOrg } from '../support/keys.js';

const { onnx } = onnxProto;
const PEPPER = 'e2e-uploads-pepper-' + 'x'.repeat(32);
const LIMIT = 4096;
const SPEC: TinyClassifierSpec = { ...TINY_CLASSIFIER_SPEC, bias: [0.7, -0.3, 0.2] };
let db: TestDatabase;
let gateway: RunningApp;
let worker: RunningApp;
let orgId: string;
let admin: string;
let predictOnly: string;
let otherAdmin: string;
let prefix: string;
let storage: string;

/** Live keys: uploading models administers the account, which test-mode keys may not (issue 9, item 1). */
async function addKey(prisma: PrismaClient, org: string, scopes: string[]): Promise<string> {
  return (await insertApiKey(prisma, PEPPER, org, { mode: 'live', scopes })).secret;
}

interface Answer {
  status: number;
  type: string | null;
  json: any;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), json: text ? JSON.parse(text) : null };
}

async function upload(name: string, version: string, bytes: Uint8Array, key = admin, org = orgId): Promise<Answer> {
  return answer(await fetch(`${gateway.url}/v1/orgs/${org}/models/${name}/versions/${version}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' }, body: bytes }));
}

async function json(method: 'GET' | 'POST', path: string, key: string, body?: unknown): Promise<Answer> {
  return answer(await fetch(gateway.url + path, { method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }));
}

function model(node: onnxProto.onnx.INodeProto, inputs: onnxProto.onnx.IValueInfoProto[], output: onnxProto.onnx.IValueInfoProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph: { name: 'g', node: [node], input: inputs, output: [output] } })).finish();
}

/** y = a + b with independent dynamic lengths: loads and warms up (1 + 1), throws at run time on [2] + [3]. */
const ADD_MODEL = model({ opType: 'Add', input: ['a', 'b'], output: ['y'] }, [floatValueInfo('a', ['n']), floatValueInfo('b', ['m'])], floatValueInfo('y', ['k']));

beforeAll(async () => {
  db = await createTestDatabase('e2e_uploads');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(tmpdir(), `stratum-e2e-uploads-${randomBytes(4).toString('hex')}.json`) });
  orgId = seeded.orgId;
  const org = await db.prisma.organization.findUniqueOrThrow({ where: { id: orgId } });
  await db.prisma.plan.update({ where: { id: org.planId }, data: { maxUploadBytes: LIMIT } });
  admin = await addKey(db.prisma, orgId, ['predict', 'admin']);
  predictOnly = await addKey(db.prisma, orgId, ['predict']);
  const other = await insertOrg(db.prisma, 'other-uploads', 'Other');
  otherAdmin = await addKey(db.prisma, other.id, ['predict', 'admin']);

  storage = mkdtempSync(join(tmpdir(), 'stratum-e2e-storage-'));
  prefix = `e2eup_${randomBytes(4).toString('hex')}`;
  const env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '3',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    MODEL_STORAGE_DIR: storage,
    WORKER_POOLS: 'tenant',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  // The tenant pool's worker holds no gateway secret (it refuses to start with API_KEY_PEPPER).
  [gateway, worker] = await Promise.all([startApp('gateway', env), startApp('worker', { ...env, API_KEY_PEPPER: '' })]);
}, 120_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), worker?.stop()]);
  await db?.drop();
  await dropRedisPrefix(prefix);
  if (storage) rmSync(storage, { recursive: true, force: true });
});

const X = [1, 0.5, -2, 0.25];

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('uploading a good model', () => {
  const bytes = buildTinyClassifier(SPEC);
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  it('registers it with its signature, sha256 and size, audited', async () => {
    const r = await upload('my-clf', '1', bytes);
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      object: 'model_version',
      model: 'my-clf',
      version: '1',
      owner: 'organization',
      pool: 'tenant',
      sha256,
      size_bytes: bytes.length,
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'probs', dtype: 'float32', shape: ['batch', 3] }],
    });
    const audit = await db.prisma.auditLog.findMany({ where: { orgId, action: 'model.upload' } });
    expect(audit).toHaveLength(1);
    const list = await json('GET', `/v1/orgs/${orgId}/models`, admin);
    expect(list.json.data.map((m: any) => [m.name, m.owner, m.versions.map((v: any) => v.version)])).toEqual([['my-clf', 'organization', ['1']]]);
  });

  it('is callable through v2 by its organization only, with exact outputs', async () => {
    // Uploads load on demand: ready means a live worker serves the tenant pool.
    const ready = await until('my-clf to be ready', async () => {
      const r = await json('GET', '/v2/models/my-clf/ready', admin);
      return r.status === 200 ? r : undefined;
    });
    expect(ready).toMatchObject({ status: 200, json: { name: 'my-clf', ready: true } });
    const r = await json('POST', '/v2/models/my-clf/infer', admin, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: X }] });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ model_name: 'my-clf', model_version: '1', outputs: [{ name: 'probs', datatype: 'FP32', shape: [1, 3] }] });
    const expected = tinyClassifierReference(SPEC.weights, SPEC.bias, X);
    (r.json.outputs[0].data as number[]).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    for (const [method, path] of [['POST', '/v2/models/my-clf/infer'], ['GET', '/v2/models/my-clf'], ['GET', '/v2/models/my-clf/ready']] as const) {
      const other = await json(method, path, otherAdmin, method === 'POST' ? { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: X }] } : undefined);
      expect({ path, status: other.status, code: other.json.code, error: typeof other.json.error }).toEqual({ path, status: 404, code: 'model_not_found', error: 'string' });
    }
    expect((await json('GET', `/v1/orgs/${orgId}/models`, otherAdmin)).status).toBe(404);
  });

  it('keeps versions immutable: the same version again is 409; the same bytes under a new version are fine', async () => {
    const again = await upload('my-clf', '1', bytes);
    expect({ status: again.status, code: again.json.code }).toEqual({ status: 409, code: 'conflict' });
    const v2 = await upload('my-clf', '2', bytes);
    expect(v2).toMatchObject({ status: 201, json: { version: '2', sha256 } });
    expect((await json('GET', '/v2/models/my-clf', admin)).json.versions).toEqual(['1', '2']);
  });

  it('needs models:write (a predict-only key gets 403) and a binary body (JSON gets 415); other routes keep refusing octet-stream', async () => {
    expect((await upload('my-clf', '3', bytes, predictOnly)).status).toBe(403);
    const asJson = await answer(await fetch(`${gateway.url}/v1/orgs/${orgId}/models/my-clf/versions/3`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' }));
    expect(asJson.status).toBe(415);
    const elsewhere = await answer(await fetch(`${gateway.url}/v1/predictions`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' }, body: bytes }));
    expect({ status: elsewhere.status, code: elsewhere.json.code }).toEqual({ status: 415, code: 'unsupported_media_type' });
  });
});

describe('hostile files', () => {
  const good = buildTinyClassifier(SPEC);
  const cases: [string, Uint8Array, number, string | null][] = [
    ['wrong magic (a PNG)', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), 422, 'wrong_magic'],
    ['truncated', good.subarray(0, Math.floor(good.length / 2)), 422, 'malformed'],
    ['absurd shapes', model({ opType: 'Relu', input: ['x'], output: ['y'] }, [floatValueInfo('x', [1 << 30, 1 << 30])], floatValueInfo('y', [1 << 30, 1 << 30])), 422, 'absurd_shape'],
    ['an operator that fails to load', model({ opType: 'NoSuchOperator', input: ['x'], output: ['y'] }, [floatValueInfo('x', ['n', 3])], floatValueInfo('y', ['n', 3])), 422, 'load_failed'],
    ['larger than the plan allows', Uint8Array.from({ length: LIMIT + 100 }, (_, i) => (i === 0 ? 0x08 : 0)), 413, null],
  ];
  it.each(cases)('refuses %s with its reason, and the gateway keeps answering', async (_what, bytes, status, reason) => {
    const r = await upload('hostile', '1', bytes);
    expect(r.status).toBe(status);
    expect(r.type).toMatch(/^application\/problem\+json/);
    if (reason) expect(r.json).toMatchObject({ code: 'model_invalid', reason });
    else expect(r.json).toMatchObject({ code: 'payload_too_large', limit_bytes: LIMIT });
    expect((await json('GET', '/v2/health/live', admin)).status).toBe(200);
  });

  it('enforces the plan limit while streaming a body without Content-Length', async () => {
    const chunk = new Uint8Array(1024);
    chunk[0] = 0x08;
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 8) return controller.close();
        sent++;
        controller.enqueue(sent === 1 ? chunk : new Uint8Array(1024));
      },
    });
    const res = await fetch(`${gateway.url}/v1/orgs/${orgId}/models/streamed/versions/1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    });
    const r = await answer(res);
    expect({ status: r.status, code: r.json.code }).toEqual({ status: 413, code: 'payload_too_large' });
    expect(await db.prisma.model.count({ where: { namespace: orgId, name: { in: ['hostile', 'streamed'] } } })).toBe(0);
  });
});

describe('a model that throws at run time', () => {
  it('fails that call with model_error and the worker keeps serving', async () => {
    expect((await upload('adder', '1', ADD_MODEL)).status).toBe(201);
    const bad = await json('POST', '/v2/models/adder/infer', admin, {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2], data: [1, 2] },
        { name: 'b', datatype: 'FP32', shape: [3], data: [1, 2, 3] },
      ],
    });
    expect(bad.status).toBe(422);
    expect(bad.json).toMatchObject({ code: 'model_error', error: expect.stringMatching(/^The model failed on this input: /) });
    const good = await json('POST', '/v2/models/adder/infer', admin, {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2], data: [1, 2] },
        { name: 'b', datatype: 'FP32', shape: [2], data: [10, 20] },
      ],
    });
    expect(good.status).toBe(200);
    expect(good.json.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [2], data: [11, 22] }]);
    // And the first uploaded model still answers on the same worker.
    expect((await json('POST', '/v2/models/my-clf/infer', admin, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: X }] })).status).toBe(200);
  });
});

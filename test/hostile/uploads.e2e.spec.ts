// The hostile suite, uploads (issue 9, items 7 and 10): what an organization can store is
// bounded by its plan (versions and bytes, also when uploads race at the edge), a version can be
// deleted (never another tenant's, never the default) and then is no longer served, the gateway's
// validation queue is bounded (503 + Retry-After when flooded), and a refusal never shows a
// server path. Gateways and a worker run as real processes on the real Postgres and Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { uuidv7, type PrismaClient } from '#infra/db';
import { buildTinyClassifier, floatValueInfo, TINY_CLASSIFIER_SPEC } from '#tools/model-builders';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';
import { insertApiKey } from '../support/keys.js';
import { testLifecycle } from '../support/lifecycle.js';

const { onnx } = onnxProto;
const PEPPER = 'hostile-uploads-pepper-' + 'x'.repeat(32);
const X = [1, 0.5, -2, 0.25];
let db: TestDatabase;
let gateway: RunningApp;
let tightGateway: RunningApp;
let worker: RunningApp;
let prefix: string;
let storage: string;

interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

function upload(base: string, key: string, org: string, name: string, version: string, bytes: Uint8Array): Promise<Answer> {
  return fetch(`${base}/v1/orgs/${org}/models/${name}/versions/${version}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' }, body: bytes }).then(answer);
}

function request(method: 'GET' | 'POST' | 'DELETE', path: string, key: string, body?: unknown): Promise<Answer> {
  return fetch(gateway.url + path, { method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }).then(answer);
}

/** A tiny classifier whose bias makes its bytes (and sha256) unique. */
function classifier(seed: number): Uint8Array {
  return buildTinyClassifier({ ...TINY_CLASSIFIER_SPEC, bias: [seed / 1000, -0.3, 0.2] });
}
const SIZE = classifier(1).length;

/** An organization on its own plan (quotas set per test), with a live admin key and a predict-only key. */
async function tenant(prisma: PrismaClient, slug: string, quota: { maxModelVersions?: number; maxModelStorageBytes?: bigint }): Promise<{ id: string; admin: string; adminId: string; predictOnly: string; planId: string }> {
  const plan = await prisma.plan.create({ data: { id: uuidv7(), key: `hostile-${slug}`, name: slug, rateLimitPerMinute: 10_000, maxUploadBytes: 1 << 20, ...quota } });
  const org = await prisma.organization.create({ data: { id: uuidv7(), slug, name: slug, planId: plan.id } });
  const admin = await insertApiKey(prisma, PEPPER, org.id, { mode: 'live', scopes: ['predict', 'admin'] });
  const predictOnly = (await insertApiKey(prisma, PEPPER, org.id, { mode: 'live', scopes: ['predict'] })).secret;
  return { id: org.id, admin: admin.secret, adminId: admin.id, predictOnly, planId: plan.id };
}

function incomingFiles(): string[] {
  const dir = join(storage, 'incoming');
  return existsSync(dir) ? readdirSync(dir) : [];
}

beforeAll(async () => {
  db = await createTestDatabase('hostile_uploads');
  await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(tmpdir(), `stratum-hostile-uploads-${randomBytes(4).toString('hex')}.json`) });
  storage = mkdtempSync(join(tmpdir(), 'stratum-hostile-storage-'));
  prefix = `hostup_${randomBytes(4).toString('hex')}`;
  const env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    MODEL_STORAGE_DIR: storage,
    WORKER_POOLS: 'tenant',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  [gateway, tightGateway, worker] = await Promise.all([
    startApp('gateway', { ...env, UPLOAD_VALIDATION_CONCURRENCY: '2', UPLOAD_VALIDATION_QUEUE: '32' }),
    // One validation at a time and one waiting: the gateway the flood is aimed at.
    startApp('gateway', { ...env, UPLOAD_VALIDATION_CONCURRENCY: '1', UPLOAD_VALIDATION_QUEUE: '1', SYSTEM_JOBS: 'off' }),
    // The tenant pool's worker holds no gateway secret (it refuses to start with API_KEY_PEPPER).
    startApp('worker', { ...env, API_KEY_PEPPER: '' }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), tightGateway?.stop(), worker?.stop()]);
  await db?.drop();
  await dropRedisPrefix(prefix);
  if (storage) rmSync(storage, { recursive: true, force: true });
});

describe('quotas', () => {
  // item 7: one version past the plan's version quota
  it('refuses one version past the plan quota with 409 version_quota_exceeded, storing nothing', async () => {
    const t = await tenant(db.prisma, 'fill-versions', { maxModelVersions: 3 });
    for (const v of ['1', '2', '3']) expect((await upload(gateway.url, t.admin, t.id, 'm', v, classifier(Number(v)))).status).toBe(201);
    const r = await upload(gateway.url, t.admin, t.id, 'other', '1', classifier(4));
    expect(r.status).toBe(409);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.json).toMatchObject({ code: 'version_quota_exceeded', usage: { versions: 3 }, limits: { max_versions: 3 } });
    expect(await db.prisma.model.count({ where: { namespace: t.id, name: 'other' } })).toBe(0);
    expect(incomingFiles()).toEqual([]);
  });

  // item 7: bytes past the plan's storage quota, with and without Content-Length
  it('refuses an upload past the storage quota with 413 storage_quota_exceeded, also when streamed without Content-Length', async () => {
    const t = await tenant(db.prisma, 'fill-storage', { maxModelStorageBytes: BigInt(2 * SIZE + Math.floor(SIZE / 2)) });
    for (const v of ['1', '2']) expect((await upload(gateway.url, t.admin, t.id, 'm', v, classifier(10 + Number(v)))).status).toBe(201);
    const declared = await upload(gateway.url, t.admin, t.id, 'm', '3', classifier(13));
    expect(declared.status).toBe(413);
    expect(declared.json).toMatchObject({ code: 'storage_quota_exceeded', usage: { versions: 2, storage_bytes: 2 * SIZE }, limits: { max_storage_bytes: 2 * SIZE + Math.floor(SIZE / 2) } });

    const bytes = classifier(14);
    const streamed = await fetch(`${gateway.url}/v1/orgs/${t.id}/models/m/versions/4`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.admin}`, 'content-type': 'application/octet-stream' },
      body: new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.subarray(0, 100));
          controller.enqueue(bytes.subarray(100));
          controller.close();
        },
      }),
      duplex: 'half',
    }).then(answer);
    expect({ status: streamed.status, code: streamed.json.code }).toEqual({ status: 413, code: 'storage_quota_exceeded' });
    expect(await db.prisma.modelVersion.count({ where: { model: { namespace: t.id } } })).toBe(2);
    expect(incomingFiles()).toEqual([]);
  });

  // item 7: uploads racing for the last version slot
  it('lets exactly one of 6 concurrent uploads at the quota edge through', async () => {
    const t = await tenant(db.prisma, 'race-edge', { maxModelVersions: 2 });
    expect((await upload(gateway.url, t.admin, t.id, 'm', '1', classifier(20))).status).toBe(201);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => upload(gateway.url, t.admin, t.id, `racer-${i}`, '1', classifier(21 + i))));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(results.filter((r) => r.status === 409).every((r) => r.json.code === 'version_quota_exceeded')).toBe(true);
    expect(await db.prisma.modelVersion.count({ where: { model: { namespace: t.id } } })).toBe(2);
  });
});

describe('deleting versions', () => {
  // item 7: another tenant's version, the default, and the real thing
  it("answers 404 for another organization's version and leaves it serving", async () => {
    const owner = await tenant(db.prisma, 'victim', {});
    const attacker = await tenant(db.prisma, 'attacker', {});
    for (const v of ['1', '2']) expect((await upload(gateway.url, owner.admin, owner.id, 'secret-clf', v, classifier(30 + Number(v)))).status).toBe(201);
    for (const path of [`/v1/orgs/${owner.id}/models/secret-clf/versions/1`, `/v1/orgs/${attacker.id}/models/secret-clf/versions/1`]) {
      const r = await request('DELETE', path, attacker.admin);
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
    }
    expect((await db.prisma.modelVersion.findMany({ where: { model: { namespace: owner.id } }, select: { deletedAt: true } })).every((v) => v.deletedAt === null)).toBe(true);
    expect((await request('GET', '/v2/models/secret-clf/versions/1', owner.admin)).status).toBe(200);
  });

  // item 7: the default version cannot go
  it('refuses to delete the default version with 409 version_is_default', async () => {
    const t = await tenant(db.prisma, 'default-delete', {});
    for (const v of ['1', '2']) expect((await upload(gateway.url, t.admin, t.id, 'm', v, classifier(40 + Number(v)))).status).toBe(201);
    const r = await request('DELETE', `/v1/orgs/${t.id}/models/m/versions/2`, t.admin);
    expect({ status: r.status, code: r.json.code }).toEqual({ status: 409, code: 'version_is_default' });
    expect((await request('GET', '/v2/models/m', t.admin)).json.versions).toEqual(['1', '2']);
  });

  // item 7: a deleted version is no longer served, counted or stored, and its number stays taken
  it('deletes a non-default version: audited, its file removed, no longer served or counted, its number not reused', async () => {
    const t = await tenant(db.prisma, 'real-delete', { maxModelVersions: 2 });
    const old = classifier(51);
    const sha = createHash('sha256').update(old).digest('hex');
    expect((await upload(gateway.url, t.admin, t.id, 'm', '1', old)).status).toBe(201);
    expect((await upload(gateway.url, t.admin, t.id, 'm', '2', classifier(52))).status).toBe(201);
    const infer = () => request('POST', '/v2/models/m/versions/1/infer', t.admin, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: X }] });
    expect((await infer()).status).toBe(200); // a worker loaded and served it
    expect(existsSync(join(storage, 'sha256', `${sha}.onnx`))).toBe(true);

    // Calls accepted before the deletion and not run yet (recorded, as a gateway does, without a job).
    const { lifecycle } = testLifecycle(db.prisma);
    const pending = async (v: string) => {
      const listed = (await request('GET', `/v1/orgs/${t.id}/models`, t.admin)).json.data[0].versions.find((x: any) => x.version === v);
      const submitted = await lifecycle.submit(
        { orgId: t.id, apiKeyId: t.adminId, mode: 'live', priority: 10 },
        {
          feature: 'model:m',
          featureVersion: v,
          pool: 'tenant',
          models: [{ name: 'm', version: v }],
          spec: { kind: 'tensor', model: { namespace: t.id, name: 'm', version: v, artifactUri: `storage:sha256/${listed.sha256}.onnx`, sha256: listed.sha256, config: {} }, outputs: null },
          input: { inputs: {} },
        },
        { waitMs: null },
      );
      return submitted.record.id;
    };
    const [queuedOld, queuedKept] = [await pending('1'), await pending('2')];

    expect((await request('DELETE', `/v1/orgs/${t.id}/models/m/versions/1`, t.predictOnly)).status).toBe(403);
    const r = await request('DELETE', `/v1/orgs/${t.id}/models/m/versions/1`, t.admin);
    expect(r.status).toBe(204);
    const statuses = await db.prisma.prediction.findMany({ where: { id: { in: [queuedOld, queuedKept] } }, select: { id: true, status: true, error: true } });
    expect(statuses.find((p) => p.id === queuedOld)).toMatchObject({ status: 'failed', error: { code: 'model_not_found' } });
    // The other version's call is left alone (the recovery loop may have picked it up meanwhile: any state but this failure).
    expect((statuses.find((p) => p.id === queuedKept)?.error as { code?: string } | null)?.code).not.toBe('model_not_found');
    expect(existsSync(join(storage, 'sha256', `${sha}.onnx`))).toBe(false);
    expect(await db.prisma.auditLog.count({ where: { orgId: t.id, action: 'model.version.delete' } })).toBe(1);
    const after = await infer();
    expect({ status: after.status, code: after.json.code }).toEqual({ status: 404, code: 'model_not_found' });
    expect((await request('GET', '/v2/models/m/versions/1', t.admin)).status).toBe(404);
    expect((await request('GET', `/v1/orgs/${t.id}/models`, t.admin)).json.data[0].versions.map((v: any) => v.version)).toEqual(['2']);
    expect((await request('DELETE', `/v1/orgs/${t.id}/models/m/versions/1`, t.admin)).status).toBe(404);
    // The freed slot takes a new version; the deleted number stays taken.
    expect((await upload(gateway.url, t.admin, t.id, 'm', '1', classifier(53))).json.code).toBe('conflict');
    expect((await upload(gateway.url, t.admin, t.id, 'm', '3', classifier(54))).status).toBe(201);
  });
});

describe('the validation queue', () => {
  // item 7: a flood of uploads on a gateway that validates one at a time with one waiting
  it('answers 503 validation_queue_full with Retry-After to uploads past the bound, and validates the rest', async () => {
    const t = await tenant(db.prisma, 'flood', {});
    const n = 8;
    // Every upload sends its first bytes and then waits for the same signal to send the rest,
    // so all bodies complete together and all want a validation slot at once.
    let release!: () => void;
    const go = new Promise<void>((r) => (release = r));
    let sentFirst = 0;
    let allSentFirst!: () => void;
    const ready = new Promise<void>((r) => (allSentFirst = r));
    const floods = Array.from({ length: n }, (_, i) => {
      const bytes = classifier(60 + i);
      return fetch(`${tightGateway.url}/v1/orgs/${t.id}/models/flood-${i}/versions/1`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.admin}`, 'content-type': 'application/octet-stream' },
        body: new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(bytes.subarray(0, 64));
            if (++sentFirst === n) allSentFirst();
            await go;
            controller.enqueue(bytes.subarray(64));
            controller.close();
          },
        }),
        duplex: 'half',
      }).then(answer);
    });
    await ready;
    release();
    const results = await Promise.all(floods);
    const refused = results.filter((r) => r.status === 503);
    expect(results.every((r) => r.status === 201 || r.status === 503)).toBe(true);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) {
      expect(r.json.code).toBe('validation_queue_full');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(incomingFiles()).toEqual([]);
    // The bound refuses only while full: a later upload is validated.
    expect((await upload(tightGateway.url, t.admin, t.id, 'after-flood', '1', classifier(70))).status).toBe(201);
  });
});

describe('refusal details', () => {
  // item 10: load_failed must not expose a server path
  it("keeps server paths out of a load_failed refusal's detail", async () => {
    const t = await tenant(db.prisma, 'paths', {});
    const bad = onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 13 }],
        graph: { name: 'g', node: [{ opType: 'NoSuchOperator', input: ['x'], output: ['y'] }], input: [floatValueInfo('x', ['n', 3])], output: [floatValueInfo('y', ['n', 3])] },
      }),
    ).finish();
    const r = await upload(gateway.url, t.admin, t.id, 'bad', '1', bad);
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ code: 'model_invalid', reason: 'load_failed' });
    expect(r.json.detail).toContain('NoSuchOperator');
    expect(r.json.detail).not.toContain(storage);
    expect(r.json.detail).not.toMatch(/(^|[\s'"(])\/[^\s]+/);
    expect(r.json.detail).not.toMatch(/\.onnx\.part/);
  });
});

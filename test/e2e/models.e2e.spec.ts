// The model repository, registry and per-model readiness end to end: a gateway and a worker
// as real processes share a MODEL_REPOSITORY holding a good tiny model and one whose warm-up
// fails; the worker serves the good one, reports the other as failed, and GET /v1/models
// shows which versions are warm.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7 } from '#infra/db';
import { writeTinyRepository } from '#tools/model-builders';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startApp, waitAlive, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';
import { insertApiKey, insertOrg } from '../support/keys.js';

const PEPPER = 'e2e-models-pepper-' + 'x'.repeat(32);
let db: TestDatabase;
let gateway: RunningApp;
let worker: RunningApp;
let key: string;
let otherKey: string;
let prefix: string;
let repo: string;
let env: Record<string, string>;

async function get(path: string, k: string | null = key) {
  const res = await fetch(gateway.url + path, { headers: k ? { authorization: `Bearer ${k}` } : {} });
  return { status: res.status, type: res.headers.get('content-type'), json: (await res.json()) as any };
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_models');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(tmpdir(), `stratum-e2e-models-${randomBytes(4).toString('hex')}.json`) });
  key = seeded.testKey.secret!;
  const other = await insertOrg(db.prisma, 'other-models', 'Other');
  otherKey = (await insertApiKey(db.prisma, PEPPER, other.id, { mode: 'test', name: 'other' })).secret;
  // The other organization's own model (uploads come later; the row is what they will write).
  await db.prisma.model.create({ data: { id: uuidv7(), orgId: other.id, namespace: other.id, name: 'their-model', pool: 'tiny' } });

  repo = writeTinyRepository(mkdtempSync(join(tmpdir(), 'stratum-e2e-repo-')), [
    { name: 'tiny-classifier', versions: ['1', '2'], config: { default_version: '2' } },
    { name: 'tiny-cold', config: { warmup: { x: { dims: [1, 5], value: 0 } } } },
  ]);
  prefix = `e2em_${randomBytes(4).toString('hex')}`;
  env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '3',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    MODEL_REPOSITORY: repo,
    WORKER_POOLS: 'tiny',
    ORT_EXECUTION_PROVIDERS: 'cuda,cpu',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  [gateway, worker] = await Promise.all([startApp('gateway', env), startApp('worker', { ...env, LOG_LEVEL: 'log' }, { waitReady: false })]);
  await waitAlive(worker);
}, 120_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), worker?.stop()]);
  await db?.drop();
  await dropRedisPrefix(prefix);
  if (repo) rmSync(repo, { recursive: true, force: true });
});

describe('worker readiness per model', () => {
  it('is not ready while a model failed its warm-up, and says which', async () => {
    const checks = await until('the worker to settle its models', async () => {
      const res = await fetch(`${worker.adminUrl}/readyz`);
      const body = (await res.json()) as { checks: Record<string, string> };
      return body.checks['models']?.startsWith('failed') ? { status: res.status, checks: body.checks } : undefined;
    });
    expect(checks.status).toBe(503);
    expect(checks.checks['models']).toMatch(/^failed: tiny-cold@1 \(.+\)$/);
    expect(checks.checks['models']).not.toContain('tiny-classifier');
  });

  it('exports sessions, provider (after the CUDA fallback), load times and failures per model version', async () => {
    const m = await (await fetch(`${worker.adminUrl}/metrics`)).text();
    expect(m).toMatch(/stratum_model_sessions_loaded\{[^}]*model="tiny-classifier"[^}]*version="2"[^}]*\} 1/);
    expect(m).toMatch(/stratum_model_sessions_loaded\{[^}]*model="tiny-cold"[^}]*\} 0/);
    expect(m).toMatch(/stratum_model_execution_provider\{[^}]*model="tiny-classifier"[^}]*provider="cpu"[^}]*\} 1/);
    // The log says the same (docs/DEPLOY.md: how to check the provider at run time).
    expect(worker.output()).toMatch(/model tiny-classifier@2: ready on cpu \(load \d+ ms, warm-up \d+ ms\)/);
    expect(m).toMatch(/stratum_model_load_seconds\{[^}]*model="tiny-classifier"[^}]*phase="warmup"[^}]*\} \d/);
    expect(m).toMatch(/stratum_model_load_failures_total\{[^}]*model="tiny-cold"[^}]*\} 1/);
  });
});

describe('GET /v1/models', () => {
  it('lists the shipped models and the repository ones with versions, signatures and readiness', async () => {
    const list = await until('tiny-classifier to be reported warm', async () => {
      const r = await get('/v1/models');
      return r.json.data?.find((m: any) => m.name === 'tiny-classifier')?.ready ? r : undefined;
    });
    expect(list.status).toBe(200);
    const names = list.json.data.map((m: any) => m.name);
    expect(names).toEqual(['ppocr-cls', 'ppocr-det', 'ppocr-rec', 'tiny-classifier', 'tiny-cold']);
    const tiny = list.json.data.find((m: any) => m.name === 'tiny-classifier');
    expect(tiny).toMatchObject({ object: 'model', owner: 'platform', pool: 'tiny', default_version: '2', ready: true });
    expect(tiny.versions.map((v: any) => [v.version, v.ready, v.ready_workers])).toEqual([
      ['1', true, 1],
      ['2', true, 1],
    ]);
    expect(tiny.versions[0]).toMatchObject({
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      size_bytes: expect.any(Number),
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'probs', dtype: 'float32', shape: ['batch', 3] }],
      created_at: expect.any(String),
    });
    // No worker serves pool ocr here, and tiny-cold never warmed up.
    expect(list.json.data.find((m: any) => m.name === 'ppocr-rec')).toMatchObject({ pool: 'ocr', default_version: '1', ready: false });
    expect(list.json.data.find((m: any) => m.name === 'tiny-cold')).toMatchObject({ ready: false, versions: [{ version: '1', ready: false }] });
  });

  it('GET /v1/models/{name}: one model; 404 model_not_found for an unknown or another organization\'s model', async () => {
    const one = await get('/v1/models/ppocr-rec');
    expect(one.status).toBe(200);
    expect(one.json.versions[0].inputs[0]).toMatchObject({ name: 'x', dtype: 'float32' });
    for (const path of ['/v1/models/no-such-model', '/v1/models/their-model']) {
      const r = await get(path);
      expect({ status: r.status, code: r.json.code }).toEqual({ status: 404, code: 'model_not_found' });
      expect(r.type).toMatch(/^application\/problem\+json/);
    }
    const theirs = await get('/v1/models/their-model', otherKey);
    expect(theirs.json).toMatchObject({ name: 'their-model', owner: 'organization', versions: [] });
    expect((await get('/v1/models', otherKey)).json.data.map((m: any) => m.name)).toContain('their-model');
    expect((await get('/v1/models', null)).status).toBe(401);
  });
});

describe('start-up', () => {
  it('refuses a MODEL_REPOSITORY version that duplicates a shipped one, naming both', async () => {
    const clash = writeTinyRepository(mkdtempSync(join(tmpdir(), 'stratum-e2e-clash-')), [{ name: 'ppocr-rec', config: { pool: 'ocr' } }]);
    try {
      const bad = await startApp('worker', { ...env, MODEL_REPOSITORY: clash, LOG_LEVEL: 'error' }, { waitReady: false });
      const code = await until('the worker to exit', async () => bad.child.exitCode ?? undefined);
      expect(code).not.toBe(0);
      expect(bad.output()).toContain(join(clash, 'ppocr-rec', '1', 'model.onnx'));
      expect(bad.output()).toContain('ch_PP-OCRv4_rec_infer.onnx');
    } finally {
      rmSync(clash, { recursive: true, force: true });
    }
  });
});

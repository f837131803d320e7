// Hostile suite, item 3 of issue 9: tenants' uploaded models are contained. Real processes:
// a gateway, a platform worker with the default pools, and a tenant worker started the way
// `npm start` starts it (tenantWorkerEnv). Each test is an attack and its expected refusal.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inheritedEnv, tenantWorkerEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { validateModelFile, validatorSpawn } from '#model-service/model-uploads';
import {
  BOMB_SHAPE_INPUT,
  buildExternalDataModel,
  buildLoopBomb,
  buildOutputBomb,
  buildTinyClassifier,
  LOOP_TRIPS_INPUT,
  tinyClassifierReference,
  TINY_CLASSIFIER_SPEC,
} from '#tools/model-builders';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertApiKey, insertOrg } from '../support/keys.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const PEPPER = 'hostile-models-pepper-' + 'x'.repeat(32);
const DEADLINE_MS = 2_000;
const MEMORY_MB = 2_048;
let db: TestDatabase;
let gateway: RunningApp;
let platformWorker: RunningApp;
let tenantWorker: RunningApp;
let orgA: string;
let adminA: string;
let keyB: string;
let prefix: string;
let storage: string;
let image: string;
let base: Record<string, string>;

interface Answer {
  status: number;
  json: any;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function upload(name: string, bytes: Uint8Array): Promise<Answer> {
  return answer(await fetch(`${gateway.url}/v1/orgs/${orgA}/models/${name}/versions/1`, { method: 'POST', headers: { authorization: `Bearer ${adminA}`, 'content-type': 'application/octet-stream' }, body: bytes }));
}

async function post(path: string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return answer(await fetch(gateway.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }));
}

const infer = (model: string, inputs: unknown[]) => post(`/v2/models/${model}/infer`, adminA, { inputs });
const ocrOfB = () => post('/v1/predictions', keyB, { feature: 'ocr-line', input: { image } }, { prefer: 'wait=60' });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let goodUploaded: Promise<void> | undefined;

/** The tenant's normal model, uploaded once (few versions: plans have quotas). */
function goodModel(): Promise<void> {
  return (goodUploaded ??= upload('good-clf', buildTinyClassifier(TINY_CLASSIFIER_SPEC)).then((r) => {
    if (r.status !== 201) throw new Error(`uploading good-clf: ${r.status} ${JSON.stringify(r.json)}`);
  }));
}

/** Variable names of a live process's environment (Linux /proc). */
function environKeys(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8')
    .split('\0')
    .filter(Boolean)
    .map((kv) => kv.split('=')[0]!)
    .sort();
}

/** The child processes of `pid` (every thread's children). */
function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}

/** How often the lifecycle started a prediction (a retry starts it again). */
async function starts(predictionId: string): Promise<number> {
  return db.prisma.predictionEvent.count({ where: { predictionId, type: 'prediction.started' } });
}

beforeAll(async () => {
  db = await createTestDatabase('hostile_models');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(tmpdir(), `stratum-hostile-models-${randomBytes(4).toString('hex')}.json`) });
  orgA = seeded.orgId;
  // A live key: test keys cannot manage models (item 1 of issue 9).
  adminA = (await insertApiKey(db.prisma, PEPPER, orgA, { mode: 'live', scopes: ['predict', 'admin'] })).secret;
  const orgB = await insertOrg(db.prisma, 'hostile-models-b', 'Tenant B');
  keyB = (await insertApiKey(db.prisma, PEPPER, orgB.id, { mode: 'test', scopes: ['predict'] })).secret;
  storage = mkdtempSync(join(tmpdir(), 'stratum-hostile-storage-'));
  prefix = `hostmod_${randomBytes(4).toString('hex')}`;
  base = { DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema, DATABASE_POOL_SIZE: '3', REDIS_PREFIX: prefix, MODEL_STORAGE_DIR: storage, LOG_LEVEL: 'warn', NODE_ENV: 'test' };
  // The tenant worker's environment is built as `npm start` builds it, from a parent that
  // holds the pepper and a cloud credential: neither may reach it.
  const parent = { ...inheritedEnv(), ...base, API_KEY_PEPPER: PEPPER, AWS_SECRET_ACCESS_KEY: 'cloud-secret' };
  const tenantEnv = tenantWorkerEnv(parent, { WORKER_POOLS: 'tenant', TENANT_RUN_DEADLINE_MS: String(DEADLINE_MS), TENANT_MODEL_MEMORY_MB: String(MEMORY_MB) });
  [gateway, platformWorker, tenantWorker] = await Promise.all([
    startApp('gateway', { ...base, API_KEY_PEPPER: PEPPER }),
    // The default WORKER_POOLS: every platform pool (here: ocr), never the tenant pool.
    startApp('worker', { ...base, API_KEY_PEPPER: PEPPER, WORKER_POOLS: '' }, { timeoutMs: 90_000 }),
    startApp('worker', tenantEnv, { exactEnv: true }),
  ]);
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 150_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), platformWorker?.stop(), tenantWorker?.stop()]);
  await db?.drop();
  await dropRedisPrefix(prefix);
  if (storage) rmSync(storage, { recursive: true, force: true });
});

describe('the tenant pool runs only in workers started for it', () => {
  // item 3: a platform worker with the default WORKER_POOLS must not take tenants' jobs.
  it('a worker with the default pools consumes the platform pools and not the tenant pool', async () => {
    const metrics = await (await fetch(`${platformWorker.adminUrl}/metrics`)).text();
    const consumes = (text: string, pool: string) => new RegExp(`^stratum_worker_busy_ratio\\{[^}]*pool="${pool}"`, 'm').test(text);
    expect({ ocr: consumes(metrics, 'ocr'), tenant: consumes(metrics, 'tenant') }).toEqual({ ocr: true, tenant: false });
    const tenant = await (await fetch(`${tenantWorker.adminUrl}/metrics`)).text();
    expect({ ocr: consumes(tenant, 'ocr'), tenant: consumes(tenant, 'tenant') }).toEqual({ ocr: false, tenant: true });
  });

  // item 3: a tenant worker holding the key pepper (an onnxruntime bug would hand it out) refuses to start.
  it('a tenant worker given API_KEY_PEPPER refuses to start, naming it', async () => {
    const bad = await startApp('worker', { ...base, API_KEY_PEPPER: PEPPER, WORKER_POOLS: 'tenant' }, { waitReady: false });
    const code = await new Promise((resolve) => (bad.child.exitCode !== null ? resolve(bad.child.exitCode) : bad.child.once('exit', (c) => resolve(c))));
    expect(code).toBe(1);
    expect(bad.output()).toContain('must not hold API_KEY_PEPPER');
  });

  // item 3: the tenant worker's environment lacks the secrets; its model processes have no environment at all.
  it("the tenant worker's environment holds no secret, and its model processes none at all", async () => {
    const keys = environKeys(tenantWorker.child.pid!);
    expect(keys).toEqual(expect.arrayContaining(['DATABASE_URL', 'REDIS_PREFIX', 'WORKER_POOLS']));
    expect(keys).not.toContain('API_KEY_PEPPER');
    expect(keys).not.toContain('AWS_SECRET_ACCESS_KEY');
    // A model loaded on demand runs in a child of the tenant worker: no variable but Node's IPC ones, and the address-space limit.
    await goodModel();
    expect((await infer('good-clf', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }])).status).toBe(200);
    const children = childrenOf(tenantWorker.child.pid!);
    expect(children.length).toBeGreaterThan(0);
    for (const pid of children) {
      expect(environKeys(pid)).toEqual(['NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE']);
      expect(readFileSync(`/proc/${pid}/limits`, 'utf8')).toMatch(new RegExp(`^Max address space\\s+${MEMORY_MB * 1024 * 1024}\\s`, 'm'));
    }
  });
});

describe('bombs fail their own prediction for good; other tenants and models go on', () => {
  const X = [1, 0.5, -2, 0.25];

  beforeAll(async () => {
    await goodModel();
    for (const [name, bytes] of [['output-bomb', buildOutputBomb()], ['loop-bomb', buildLoopBomb()]] as const) {
      // Each passes validation: its zero-input warm-up is harmless.
      const r = await upload(name, bytes);
      expect({ name, status: r.status }).toEqual({ name, status: 201 });
    }
    await until('the tenant pool to be ready', async () => ((await fetch(`${gateway.url}/v2/models/good-clf/ready`, { headers: { authorization: `Bearer ${adminA}` } })).status === 200 ? true : undefined));
  });

  // item 3: an OUTPUT BOMB (shape from the input: 4 GiB) fails with model_memory_exceeded while B's OCR succeeds.
  it('an output bomb fails with model_memory_exceeded, once, while another tenant reads text', async () => {
    const [bomb, ocr] = await Promise.all([infer('output-bomb', [{ name: BOMB_SHAPE_INPUT, datatype: 'INT64', shape: [2], data: [65536, 16384] }]), ocrOfB()]);
    expect({ status: bomb.status, code: bomb.json.code }).toEqual({ status: 422, code: 'model_memory_exceeded' });
    // Stopped by the address-space limit at the allocation (not after 4 GiB were filled).
    expect(bomb.json.error).toMatch(/needed more memory than an uploaded model may use \(.*Failed to allocate memory/);
    expect(ocr.json).toMatchObject({ status: 'succeeded', output: { text: 'Hello Stratum' } });
    expect(await starts(bomb.json.prediction_id)).toBe(1);
  });

  // item 3: a LOOP BOMB (trip count from the input) is stopped at its deadline with model_timeout while B's OCR succeeds.
  it('a loop bomb is stopped at its deadline with model_timeout, once, while another tenant reads text', async () => {
    const started = Date.now();
    const [bomb, ocr] = await Promise.all([infer('loop-bomb', [{ name: LOOP_TRIPS_INPUT, datatype: 'INT64', shape: [1], data: [1e15] }]), ocrOfB()]);
    const ms = Date.now() - started;
    expect({ status: bomb.status, code: bomb.json.code }).toEqual({ status: 422, code: 'model_timeout' });
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS);
    expect(ms).toBeLessThan(DEADLINE_MS + 10_000);
    expect(ocr.json).toMatchObject({ status: 'succeeded', output: { text: 'Hello Stratum' } });
    expect(await starts(bomb.json.prediction_id)).toBe(1);
  });

  // item 3: after both bombs the same tenant worker still serves a normal uploaded model (and the bomb, on a sane input).
  it('the tenant worker keeps serving a normal uploaded model afterwards', async () => {
    const good = await infer('good-clf', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: X }]);
    expect(good.status).toBe(200);
    const expected = Array.from(tinyClassifierReference(TINY_CLASSIFIER_SPEC.weights, TINY_CLASSIFIER_SPEC.bias, X));
    (good.json.outputs[0].data as number[]).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    const restarted = await until('the loop bomb to serve again', async () => {
      const r = await infer('loop-bomb', [{ name: LOOP_TRIPS_INPUT, datatype: 'INT64', shape: [1], data: [3] }]);
      return r.status === 200 ? r : undefined;
    });
    expect(restarted.json.outputs[0].data).toEqual([3]);
    expect(tenantWorker.child.exitCode).toBeNull();
  });
});

describe('uploads that reach outside the file are refused', () => {
  // item 3: a model whose weights live in an external file (data_location = EXTERNAL) would read any path.
  it.each([
    ['an initializer', 'initializer'],
    ["a Constant node's tensor", 'constant'],
  ] as const)('refuses external data in %s with 422 model_invalid, reason external_data', async (_what, where) => {
    const r = await upload(`external-${where}`, buildExternalDataModel('/etc/passwd', where));
    expect({ status: r.status, code: r.json.code, reason: r.json.reason }).toEqual({ status: 422, code: 'model_invalid', reason: 'external_data' });
  });
});

describe("the upload validator's environment", () => {
  // item 3: the validator child inherits nothing (no DATABASE_URL, no API_KEY_PEPPER) and runs under prlimit --as.
  it('is spawned with an empty environment under an address-space limit', () => {
    const how = validatorSpawn('/tmp/m.onnx', { timeoutMs: 1_000, maxRssBytes: 1024 ** 3, addressSpaceBytes: 2.5 * 1024 ** 3 }, '/x/validator-child.js', '/usr/bin/node', '/usr/bin/prlimit');
    expect(how).toEqual({ command: '/usr/bin/prlimit', args: [`--as=${2.5 * 1024 ** 3}`, '--', '/usr/bin/node', '--max-old-space-size=1024', '/x/validator-child.js', '/tmp/m.onnx'], env: {} });
  });

  // item 3: a real spawn: a probe in the validator's place reports what it sees.
  it('really sees no variable and the address-space limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratum-validator-probe-'));
    const probe = join(dir, 'probe.mjs');
    writeFileSync(
      probe,
      `import { readFileSync } from 'node:fs';
const limit = /^Max address space\\s+(\\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
process.stdout.write(JSON.stringify({ ok: false, reason: 'validator_crashed', message: JSON.stringify({ keys: Object.keys(process.env), limit }) }) + '\\n');
`,
    );
    try {
      // The test runner has PATH, HOME and more: none of it may reach the child.
      expect(Object.keys(inheritedEnv()).length).toBeGreaterThan(0);
      const seen = await validateModelFile(join(dir, 'none.onnx'), { timeoutMs: 20_000, maxRssBytes: 1024 ** 3, addressSpaceBytes: 2.5 * 1024 ** 3 }, probe).then(
        () => null,
        (e: { detail: string }) => JSON.parse(e.detail) as { keys: string[]; limit: string },
      );
      expect(seen).toEqual({ keys: [], limit: String(2.5 * 1024 ** 3) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

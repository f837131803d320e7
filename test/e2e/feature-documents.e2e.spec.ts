// Features as documents end to end: a FEATURES_DIR with README's worked example (image-orientation@2)
// and a feature priced per started 5 characters, served by the built gateway and worker with real
// Postgres, Redis and the PaddleOCR models; version pinning; the audit trail (model sha256) on the
// prediction; and start-up refusing a bad document or a changed published version.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OCR_LINE_V1, type FeatureDefinition } from '#feature-engine/feature-catalogue';
import { repoRoot } from '#infra/db';
import { seedDemo } from '../../scripts/seed.js';
import { consumerCaughtUp } from '../support/lifecycle.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { readmeFeatureExample } from '../support/feature-example.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const PEPPER = 'e2e-pepper-' + 'y'.repeat(32);

let db: TestDatabase;
let gateway: RunningApp;
let worker: RunningApp;
let key: string;
let prefix: string;
let image: string;
let env: Record<string, string>;
const root = mkdtempSync(join(tmpdir(), 'stratum-fdocs-e2e-'));
const featuresDir = join(root, 'features');

/** ocr-line@1 as a new feature billed per started 5 characters of its text. */
const OCR_CHARS: FeatureDefinition = { ...structuredClone(OCR_LINE_V1), name: 'ocr-chars', description: 'ocr-line billed per 5 characters', price: { unitType: 'characters', units: { characters: '/text', per: 5 } } };

async function api(path: string, body?: unknown) {
  const res = await fetch(gateway.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json', prefer: 'wait=30' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as any };
}

/** Starts the built gateway with these settings and waits for it to exit on its own. */
async function refusedStart(extra: Record<string, string>): Promise<{ code: number | string | null; output: string }> {
  const app = await startApp('gateway', { ...env, ...extra }, { waitReady: false });
  const code = await new Promise<number | string | null>((resolve) => {
    if (app.child.exitCode !== null) resolve(app.child.exitCode);
    else app.child.once('exit', (c, signal) => resolve(c ?? signal));
  });
  return { code, output: app.output() };
}

beforeAll(async () => {
  db = await createTestDatabase('fdocs');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(root, 'credentials.json') });
  key = seeded.testKey.secret!;
  mkdirSync(featuresDir);
  const example = readmeFeatureExample();
  writeFileSync(join(featuresDir, example.file), example.text);
  writeFileSync(join(featuresDir, 'ocr-chars@1.yaml'), JSON.stringify(OCR_CHARS)); // JSON is YAML too
  prefix = `fdocs_${randomBytes(4).toString('hex')}`;
  env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    WORKER_CONCURRENCY: '2',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
    FEATURES_DIR: featuresDir,
  };
  [gateway, worker] = await Promise.all([startApp('gateway', env), startApp('worker', env, { timeoutMs: 90_000 })]);
  image = readFileSync(join(repoRoot(), 'examples', 'hello.png')).toString('base64');
}, 150_000);

afterAll(async () => {
  const codes = await Promise.all([gateway?.stop(), worker?.stop()]);
  await db?.drop();
  await dropRedisPrefix(prefix);
  rmSync(root, { recursive: true, force: true });
  expect(codes).toEqual([0, 0]);
});

describe('a feature added through FEATURES_DIR', () => {
  it('is listed with every version, input schema and price', async () => {
    const list = await api('/v1/features');
    expect(list.status).toBe(200);
    const orientation = list.json.data.find((f: any) => f.name === 'image-orientation');
    expect(orientation).toMatchObject({ version: '2', default_version: '2', price: { unit_type: 'image', units: 2 } });
    expect(orientation.versions.map((v: any) => [v.version, v.default, v.price.units])).toEqual([
      ['1', false, 1],
      ['2', true, 2],
    ]);
    expect(orientation.versions[1].input_schema.required).toEqual(['image']);
    expect(orientation.versions[1].sha256).toMatch(/^[0-9a-f]{64}$/);
    const chars = list.json.data.find((f: any) => f.name === 'ocr-chars');
    expect(chars.price).toEqual({ unit_type: 'characters', units: { characters: '/text', per: 5 }, description: 'one per 5 characters of /text (started)' });
    const one = await api('/v1/features/image-orientation@1');
    expect(one.json).toMatchObject({ name: 'image-orientation', version: '1', default_version: '2', price: { units: 1 } });
    // The OpenAPI document has one request variant per version, each with its input schema.
    const doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as any;
    expect(doc.components.schemas.Input_image_orientation_v2).toEqual(orientation.versions[1].input_schema);
    expect(doc.components.schemas.Input_ocr_chars_v1).toEqual(chars.input_schema);
  });

  it('answers through POST /v1/predictions at its default version, with its units and the models with their sha256', async () => {
    const r = await api('/v1/predictions', { feature: 'image-orientation', input: { image } });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ feature: 'image-orientation', version: '2', status: 'succeeded', output: { angle: 0 }, units: 2 });
    const registered = await db.prisma.modelVersion.findFirst({ where: { version: '1', model: { name: 'ppocr-cls' } }, select: { sha256: true } });
    expect(registered?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.json.models).toEqual([{ name: 'ppocr-cls', version: '1', sha256: registered?.sha256 }]);
    // The same on a later read, and in the usage data made of prediction.succeeded.
    expect((await api(`/v1/predictions/${r.json.id}`)).json.models).toEqual(r.json.models);
    await consumerCaughtUp(db.prisma);
    expect(await db.prisma.usageEvent.findUnique({ where: { id: r.json.id }, select: { feature: true, units: true, unitType: true } })).toEqual({ feature: 'image-orientation', units: 2, unitType: 'image' });
  });

  it('pins a version with version or name@version; a disagreement or an unknown version is refused', async () => {
    const byField = await api('/v1/predictions', { feature: 'image-orientation', version: '1', input: { image } });
    expect(byField.json).toMatchObject({ version: '1', status: 'succeeded', units: 1 });
    const byName = await api('/v1/predictions', { feature: 'image-orientation@1', input: { image } });
    expect(byName.json).toMatchObject({ feature: 'image-orientation', version: '1', status: 'succeeded', units: 1 });
    const both = await api('/v1/predictions', { feature: 'image-orientation@1', version: '2', input: { image } });
    expect({ status: both.status, code: both.json.code, errors: both.json.errors }).toEqual({ status: 422, code: 'validation_failed', errors: [{ path: '/version', message: 'must agree with the version in feature ("1")' }] });
    const unknown = await api('/v1/predictions', { feature: 'image-orientation@7', input: { image } });
    expect({ status: unknown.status, code: unknown.json.code }).toEqual({ status: 404, code: 'feature_not_found' });
    expect(unknown.json.detail).toContain('Its versions: 1, 2.');
  });

  it('counts units from the call (per started 5 characters of the text read)', async () => {
    const r = await api('/v1/predictions', { feature: 'ocr-chars', input: { image } });
    expect(r.json).toMatchObject({ status: 'succeeded', output: { text: 'Hello Stratum' }, units: 3 });
    expect(r.json.models).toEqual([{ name: 'ppocr-rec', version: '1', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  });

  it('records each served version with its sha256', async () => {
    const rows = await db.prisma.feature.findMany({ select: { name: true, version: true, sha256: true }, orderBy: [{ name: 'asc' }, { version: 'asc' }] });
    expect(rows.map((r) => `${r.name}@${r.version}`)).toEqual(['image-orientation@1', 'image-orientation@2', 'ocr@1', 'ocr-chars@1', 'ocr-line@1']);
    const features = (await api('/v1/features')).json.data as any[];
    const v2 = features.find((f) => f.name === 'image-orientation').versions[1];
    expect(rows.find((r) => r.name === 'image-orientation' && r.version === '2')?.sha256).toBe(v2.sha256);
  });
});

describe('start-up refuses', () => {
  it('a bad document, naming the file and the node', async () => {
    const bad = join(root, 'bad');
    mkdirSync(bad);
    const broken = { ...structuredClone(OCR_LINE_V1), name: 'broken', nodes: OCR_LINE_V1.nodes.map((n) => (n.id === 'recognise' ? { ...n, params: { model: 'ppocr-rec', version: '9' } } : n)) };
    writeFileSync(join(bad, 'broken@1.json'), JSON.stringify(broken));
    const { code, output } = await refusedStart({ FEATURES_DIR: bad });
    expect(code).toBe(1);
    expect(output).toContain(`${join(bad, 'broken@1.json')}: feature broken@1 is invalid: node recognise (model.run): model ppocr-rec@9 is not served here (its versions: 1)`);
  }, 60_000);

  it('a changed document for a published version', async () => {
    const changed = join(root, 'changed');
    mkdirSync(changed);
    const example = JSON.parse(readmeFeatureExample().text) as FeatureDefinition;
    writeFileSync(join(changed, 'image-orientation@2.json'), JSON.stringify({ ...example, price: { unitType: 'image', units: 5 } }));
    const { code, output } = await refusedStart({ FEATURES_DIR: changed });
    expect(code).toBe(1);
    expect(output).toContain(`${join(changed, 'image-orientation@2.json')}: feature image-orientation@2 was published with sha256`);
    expect(output).toContain('a published version is immutable: publish the change as a new version (image-orientation@3)');
  }, 60_000);
});

// Idempotency-Key, Cancel-After and header parsing against a started gateway (a real child
// process, real Postgres and Redis). No worker runs: a prediction stays unfinished until the
// test finishes it (cancel), which makes "still in flight" and "not finished by its
// Cancel-After" deterministic. Time-dependent behaviour (24 h expiry) is driven by moving
// the stored timestamps, never by sleeping.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertApiKey } from '../support/keys.js';
import { consumerCaughtUp } from '../support/lifecycle.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const PEPPER = 'idem-e2e-pepper-' + 'i'.repeat(32);
const HOUR = 3_600_000;

let db: TestDatabase;
let gateway: RunningApp;
let env: Record<string, string>;
let prefix: string;
let orgId: string;
let liveKey: string;
let testKey: string;
let adminKey: string;

type Reply = { status: number; headers: Headers; json: any; text: string };

async function call(method: string, path: string, key: string, init: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...(init.headers ?? {}) };
  const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(gateway.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json, text };
}

const predict = (key: string, body: unknown, headers: Record<string, string> = {}) => call('POST', '/v1/predictions', key, { body, headers });
const idem = () => `idem-${randomUUID()}`;
/** A distinct valid body per n (no worker runs, so the image is never decoded). */
const input = (n: number) => ({ feature: 'ocr-line', input: { image: Buffer.from(`image ${n}`).toString('base64') } });

function expectProblem(r: Reply, status: number, code: string, header?: string) {
  expect({ status: r.status, code: r.json?.code }).toEqual({ status, code });
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  if (header) expect(r.json.header).toBe(header);
}

async function predictionCount(): Promise<number> {
  return db.prisma.prediction.count({ where: { orgId } });
}

/** Polls Postgres until `f` gives a value (a condition, not a sleep standing in for one). */
async function until<T>(what: string, f: () => Promise<T | null | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  db = await createTestDatabase('idem');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(tmpdir(), `stratum-idem-${randomBytes(4).toString('hex')}.json`) });
  orgId = seeded.orgId;
  liveKey = seeded.liveKey.secret!;
  testKey = seeded.testKey.secret!;
  adminKey = (await insertApiKey(db.prisma, PEPPER, orgId, { scopes: ['admin', 'predict'], name: 'admin' })).secret;
  prefix = `idem_${randomBytes(4).toString('hex')}`;
  env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    // The recovery loop runs often; its grace period is long, so only a passed deadline (Cancel-After) gets a prediction looked at.
    RECOVERY_INTERVAL_MS: '100',
    RECOVERY_GRACE_MS: '600000',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  gateway = await startApp('gateway', env);
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await db?.drop();
  await dropRedisPrefix(prefix);
});

describe('Idempotency-Key on POST /v1/predictions', () => {
  it('replays the first 202 with its status, body and Location, marked Idempotent-Replayed, creating nothing more', async () => {
    const key = idem();
    const before = await predictionCount();
    const first = await predict(liveKey, input(1), { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // The same body with its keys in another order and other whitespace is the same request.
    const again = await call('POST', '/v1/predictions', liveKey, { raw: `{ "input": {"image": "${input(1).input.image}"},\n "feature": "ocr-line" }`, headers: { 'idempotency-key': key } });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    // The quoted (structured-field) form names the same key.
    const quoted = await predict(liveKey, input(1), { 'idempotency-key': `"${key}"` });
    expect([quoted.status, quoted.json.id, quoted.headers.get('idempotent-replayed')]).toEqual([202, first.json.id, 'true']);
    expect(await predictionCount()).toBe(before + 1);
  });

  it('answers 422 idempotency_key_reused for the same key with another body, and creates nothing', async () => {
    const key = idem();
    const first = await predict(liveKey, input(2), { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const before = await predictionCount();
    expectProblem(await predict(liveKey, input(3), { 'idempotency-key': key }), 422, 'idempotency_key_reused', 'Idempotency-Key');
    expectProblem(await predict(liveKey, { ...input(2), webhook: 'https://example.com/hook' }, { 'idempotency-key': key }), 422, 'idempotency_key_reused');
    // Another route under the same key is another request too.
    expectProblem(await call('POST', '/v2/models/ppocr-rec/infer', liveKey, { body: { inputs: [] }, headers: { 'idempotency-key': key } }), 422, 'idempotency_key_reused');
    expect(await predictionCount()).toBe(before);
  });

  it('answers 409 to a duplicate while the first still runs, then replays the first response with its original 201', async () => {
    const key = idem();
    const known = new Set((await db.prisma.prediction.findMany({ where: { orgId }, select: { id: true } })).map((p) => p.id));
    // No worker: this request waits (Prefer: wait=30) until the test cancels its prediction.
    const pending = predict(liveKey, input(4), { 'idempotency-key': key, prefer: 'wait=30' });
    const created = await until('the held prediction', async () => (await db.prisma.prediction.findMany({ where: { orgId }, select: { id: true } })).find((p) => !known.has(p.id)));
    expect(await db.prisma.idempotentRequest.findFirst({ where: { key }, select: { state: true } })).toEqual({ state: 'in_flight' });

    const duplicate = await predict(liveKey, input(4), { 'idempotency-key': key, prefer: 'wait=30' });
    expectProblem(duplicate, 409, 'idempotency_in_flight', 'Idempotency-Key');
    expect(duplicate.headers.get('retry-after')).toBe('1');
    expectProblem(await predict(liveKey, input(5), { 'idempotency-key': key }), 422, 'idempotency_key_reused');

    expect((await call('POST', `/v1/predictions/${created.id}/cancel`, liveKey)).status).toBe(200);
    const first = await pending;
    expect([first.status, first.json.id, first.json.status]).toEqual([201, created.id, 'canceled']);
    expect(first.headers.get('preference-applied')).toBe('wait=30');

    const replay = await predict(liveKey, input(4), { 'idempotency-key': key, prefer: 'wait=30' });
    expect(replay.status).toBe(201);
    expect(replay.json).toEqual(first.json);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('preference-applied')).toBe('wait=30');
  });

  it('keeps test and live keys apart: a test key with a live request\'s key gets its own fresh result, and cannot pre-claim one', async () => {
    const key = idem();
    const live = await predict(liveKey, input(6), { 'idempotency-key': key });
    expect(live.status).toBe(202);
    // Same key, same body, test mode: a new test prediction, nothing replayed, nothing learnt.
    const test = await predict(testKey, input(6), { 'idempotency-key': key });
    expect(test.status).toBe(202);
    expect(test.headers.get('idempotent-replayed')).toBeNull();
    expect(test.json.id).not.toBe(live.json.id);
    // Same key, another body, test mode: still no 422 (that would tell the key is used in live).
    const other = await predict(testKey, input(7), { 'idempotency-key': idem() });
    expect(other.status).toBe(202);

    // The other way round: a test key claims first; the live request is not affected.
    const claimed = idem();
    expect((await predict(testKey, input(8), { 'idempotency-key': claimed })).status).toBe(202);
    const liveAfter = await predict(liveKey, input(9), { 'idempotency-key': claimed });
    expect(liveAfter.status).toBe(202);
    expect(liveAfter.headers.get('idempotent-replayed')).toBeNull();
    expect(await db.prisma.prediction.findUniqueOrThrow({ where: { id: liveAfter.json.id }, select: { mode: true } })).toEqual({ mode: 'live' });
  });

  it('expires a key after IDEMPOTENCY_TTL_HOURS (24 h): replayed just before, a fresh request just after', async () => {
    const key = idem();
    const first = await predict(liveKey, input(10), { 'idempotency-key': key });
    const age = async (ms: number) => db.prisma.idempotentRequest.updateMany({ where: { key }, data: { createdAt: new Date(Date.now() - ms) } });

    await age(24 * HOUR - 60_000);
    expectProblem(await predict(liveKey, input(11), { 'idempotency-key': key }), 422, 'idempotency_key_reused');
    const stillReplayed = await predict(liveKey, input(10), { 'idempotency-key': key });
    expect([stillReplayed.json.id, stillReplayed.headers.get('idempotent-replayed')]).toEqual([first.json.id, 'true']);

    await age(24 * HOUR);
    const fresh = await predict(liveKey, input(11), { 'idempotency-key': key });
    expect(fresh.status).toBe(202);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    expect(fresh.json.id).not.toBe(first.json.id);
    // The key now belongs to the new request.
    const replay = await predict(liveKey, input(11), { 'idempotency-key': key });
    expect([replay.json.id, replay.headers.get('idempotent-replayed')]).toEqual([fresh.json.id, 'true']);
  });

  it('stores no error: a request refused with 4xx may be retried, fixed, under the same key', async () => {
    const key = idem();
    expectProblem(await predict(liveKey, { feature: 'no-such-feature', input: {} }, { 'idempotency-key': key }), 404, 'feature_not_found');
    const fixed = await predict(liveKey, input(12), { 'idempotency-key': key });
    expect(fixed.status).toBe(202);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
  });
});

describe('Idempotency-Key on key creation', () => {
  it('replays the created key (201, same id and secret, no-store) instead of creating a second, and keeps the secret encrypted at rest', async () => {
    const key = idem();
    const body = { name: `ci-${randomBytes(3).toString('hex')}`, scopes: ['predict'] };
    const first = await call('POST', `/v1/orgs/${orgId}/api-keys`, adminKey, { body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    expect(first.json.secret).toEqual(expect.any(String));
    const replay = await call('POST', `/v1/orgs/${orgId}/api-keys`, adminKey, { body, headers: { 'idempotency-key': key } });
    expect(replay.status).toBe(201);
    expect(replay.json).toEqual(first.json);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('cache-control')).toBe('no-store');
    expect(await db.prisma.apiKey.count({ where: { orgId, name: body.name } })).toBe(1);
    expectProblem(await call('POST', `/v1/orgs/${orgId}/api-keys`, adminKey, { body: { ...body, name: body.name + '-2' }, headers: { 'idempotency-key': key } }), 422, 'idempotency_key_reused');

    const stored = await db.prisma.idempotentRequest.findFirstOrThrow({ where: { key } });
    const bytes = Buffer.from(stored.response!);
    expect(bytes.includes(Buffer.from(first.json.secret))).toBe(false);
    expect(bytes.includes(Buffer.from(first.json.id))).toBe(false);
  });
});

describe('Cancel-After', () => {
  it('cancels a prediction not finished by then (canceled, never billed), and leaves one without the header alone', async () => {
    const withDeadline = await predict(liveKey, input(20), { 'cancel-after': '1s' });
    const without = await predict(liveKey, input(21));
    expect([withDeadline.status, without.status]).toEqual([202, 202]);
    const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: withDeadline.json.id }, select: { cancelAt: true, createdAt: true, deadlineAt: true } });
    expect(row.cancelAt!.getTime() - row.createdAt.getTime()).toBe(1_000);
    expect(row.deadlineAt).toEqual(row.cancelAt);

    const canceled = await until('the Cancel-After cancel', async () => {
      const r = await call('GET', `/v1/predictions/${withDeadline.json.id}`, liveKey);
      return r.json.status === 'starting' ? null : r;
    });
    expect(canceled.json).toMatchObject({ status: 'canceled', error: null, units: null });
    const events = await db.prisma.predictionEvent.findMany({ where: { predictionId: withDeadline.json.id }, select: { type: true } });
    expect(events.map((e) => e.type).sort()).toEqual(['prediction.canceled', 'prediction.created']);
    await consumerCaughtUp(db.prisma);
    expect(await db.prisma.usageEvent.count({ where: { id: withDeadline.json.id } })).toBe(0);
    expect((await call('GET', `/v1/predictions/${without.json.id}`, liveKey)).json.status).toBe('starting');
  });

  it('accepts seconds and compound durations; a value past the prediction deadline is refused', async () => {
    for (const [v, ms] of [['90', 90_000], ['1m30s', 90_000], ['1500ms', 1_500]] as const) {
      const r = await predict(liveKey, input(22), { 'cancel-after': v });
      expect(r.status).toBe(202);
      const row = await db.prisma.prediction.findUniqueOrThrow({ where: { id: r.json.id }, select: { cancelAt: true, createdAt: true } });
      expect([v, row.cancelAt!.getTime() - row.createdAt.getTime()]).toEqual([v, ms]);
    }
    expectProblem(await predict(liveKey, input(22), { 'cancel-after': '16m' }), 400, 'invalid_header', 'Cancel-After');
  });
});

describe('malformed headers', () => {
  it('400 invalid_header naming the header for a malformed Idempotency-Key or Cancel-After; nothing is created', async () => {
    const before = await predictionCount();
    for (const bad of ['k'.repeat(256), '"unterminated', 'a"b']) expectProblem(await predict(liveKey, input(30), { 'idempotency-key': bad }), 400, 'invalid_header', 'Idempotency-Key');
    for (const bad of ['soon', '-5', '0', '5 minutes']) expectProblem(await predict(liveKey, input(30), { 'cancel-after': bad }), 400, 'invalid_header', 'Cancel-After');
    expectProblem(await call('POST', `/v1/orgs/${orgId}/api-keys`, adminKey, { body: { name: 'x', scopes: ['predict'] }, headers: { 'idempotency-key': '' } }), 400, 'invalid_header', 'Idempotency-Key');
    expect(await predictionCount()).toBe(before);
  });

  it('ignores a Prefer: wait it cannot honour (wait=-5): 202 at once, no Preference-Applied', async () => {
    const started = Date.now();
    for (const prefer of ['wait=-5', 'wait=soon', 'wait=1.5']) {
      const r = await predict(liveKey, input(31), { prefer });
      expect([prefer, r.status, r.headers.get('preference-applied')]).toEqual([prefer, 202, null]);
    }
    // Without a worker an honoured wait would hold each request for its full length (60 s for a bare "wait").
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('durability', () => {
  it('answers 409 problem+json, never a 500, when a stored response cannot be decrypted (e.g. a rotated pepper)', async () => {
    const key = idem();
    expect((await predict(liveKey, input(41), { 'idempotency-key': key })).status).toBe(202);
    const stored = await db.prisma.idempotentRequest.findFirstOrThrow({ where: { key } });
    const tampered = Buffer.from(stored.response!);
    tampered[tampered.length - 1]! ^= 0xff;
    await db.prisma.idempotentRequest.updateMany({ where: { key }, data: { response: new Uint8Array(tampered) } });
    expectProblem(await predict(liveKey, input(41), { 'idempotency-key': key }), 409, 'conflict', 'Idempotency-Key');
  });


  it('replays after a gateway restart (the record is in Postgres)', async () => {
    const key = idem();
    const first = await predict(liveKey, input(40), { 'idempotency-key': key });
    expect(first.status).toBe(202);
    await gateway.stop();
    gateway = await startApp('gateway', env);
    const replay = await predict(liveKey, input(40), { 'idempotency-key': key });
    expect([replay.status, replay.json, replay.headers.get('idempotent-replayed')]).toEqual([202, first.json, 'true']);
  }, 60_000);
});

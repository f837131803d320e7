// Webhook delivery against the real Postgres and a real receiver HTTP server that verifies
// with the Standard Webhooks reference library: the lifecycle's events become messages (events
// filter respected), each signed POST is recorded as an attempt; a 500 is retried on the
// schedule, a Retry-After is honoured, a 410 disables the endpoint, a replay sends again, a
// rotation signs with both secrets, and targets resolving to private or metadata addresses
// are refused after resolution (loopback is allowed here, as in the other tests).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import type { AppConfig } from '#infra/config';
import { allowList, DeliveryEngine, PredictionWebhooksConsumer, pruneMessages, rotateSecret, WebhooksService, type Resolver } from '#platform/webhooks';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { drain, testLifecycle, type TestLifecycle } from '../support/lifecycle.js';
import { insertApiKey, insertOrg } from '../support/keys.js';
import { Receiver } from '../support/webhooks.js';

let db: TestDatabase;
let t: TestLifecycle;
let receiver: Receiver;
let engine: DeliveryEngine;
let consumer: PredictionWebhooksConsumer;
let service: WebhooksService;
let orgId: string;
let apiKeyId: string;
let pathNo = 0;
/** Names only this test's resolver knows: the delivery must connect to the address it checked. */
const DNS: Record<string, string[]> = { 'hooks.test': ['127.0.0.1'], 'inside.test': ['10.0.0.5'], 'metadata.test': ['169.254.169.254'], 'mixed.test': ['127.0.0.1', 'fd00::1'] };
let lookups: string[] = [];
const resolver: Resolver = async (host) => {
  lookups.push(host);
  const addrs = DNS[host];
  if (!addrs) throw new Error(`ENOTFOUND ${host}`);
  return addrs.map((address) => ({ address, family: address.includes(':') ? (6 as const) : (4 as const) }));
};
const config = { publicBaseUrl: 'https://api.stratum.test', env: { WEBHOOK_SECRET_OVERLAP_SECONDS: 3600, WEBHOOK_ALLOW_HTTP: true } } as unknown as AppConfig;

beforeAll(async () => {
  db = await createTestDatabase('webhooks');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: 'p'.repeat(40) });
  orgId = seeded.orgId;
  apiKeyId = seeded.liveKey.id;
  t = testLifecycle(db.prisma);
  receiver = new Receiver();
  await receiver.start();
  engine = new DeliveryEngine(db.prisma, { schedule: [50, 50, 50], allowed: allowList(['127.0.0.0/8', '::1/128']), timeoutMs: 5_000, resolve: resolver, random: () => 0.5 });
  consumer = new PredictionWebhooksConsumer(db.prisma, config);
  service = new WebhooksService(db.prisma, config);
}, 60_000);

afterAll(async () => {
  await receiver?.stop();
  await db?.drop();
});

/** A dashboard user of the organization, as the guard hands it to the service. */
const owner = (org: string) => ({ kind: 'user' as const, userId: '00000000-0000-7000-8000-000000000001', orgId: org, role: 'owner' as const, ip: '127.0.0.1' });

const freshPath = () => `/hook-${++pathNo}`;

/** A prediction with its own webhook, taken through start to success (or failure), then the consumer drained. */
async function predict(webhook: string | undefined, filter: string[] | undefined, end: 'succeeded' | 'failed' = 'succeeded', who = { orgId, apiKeyId }): Promise<string> {
  const { record } = await t.lifecycle.submit(
    { ...who, mode: 'live', priority: 1 },
    { feature: 'ocr-line', featureVersion: '1', pool: 'ppocr-rec', models: [], spec: { kind: 'feature' }, input: { image: 'x' }, ...(webhook ? { webhook } : {}), ...(filter ? { webhookEventsFilter: filter } : {}) },
    { waitMs: null },
  );
  await t.lifecycle.start({ orgId: who.orgId }, record.id, 1, new Date());
  if (end === 'succeeded') await t.lifecycle.succeed({ orgId: who.orgId }, record.id, { output: { text: 'hello' }, metrics: { queue_time_ms: 1, predict_time_ms: 2, total_time_ms: 3, batch_size: 1 }, models: [], units: 1, unitType: 'image' }, new Date());
  else await t.lifecycle.fail({ orgId: who.orgId }, record.id, { code: 'model_error', message: 'boom' }, null, new Date());
  await drain(db.prisma, consumer);
  return record.id;
}

/** The messages a prediction made (oldest first). */
async function messagesOf(predictionId: string) {
  const all = await db.prisma.webhookMessage.findMany({ orderBy: { id: 'asc' } });
  return all.filter((m) => (m.payload as { data: { id: string } }).data.id === predictionId);
}

/** Runs delivery rounds until none of the messages is pending (retries are due within ms here). */
async function settle(ids: string[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await engine.runOnce();
    const pending = await db.prisma.webhookMessage.count({ where: { id: { in: ids }, status: 'pending' } });
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending} message(s) still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const attemptsOf = (messageId: string) => db.prisma.webhookAttempt.findMany({ where: { messageId }, orderBy: { attempt: 'asc' } });
const secretOf = async (org = orgId) => (await db.prisma.webhookSecret.findUniqueOrThrow({ where: { orgId: org } })).secret;

describe('prediction webhooks', () => {
  it('POSTs each lifecycle event to the prediction webhook, signed so the reference library verifies it', async () => {
    const path = freshPath();
    const id = await predict(receiver.url(path), undefined);
    const msgs = await messagesOf(id);
    // No filter: every event Replicate sends (start, then completed with the output); none at creation.
    expect(msgs.map((m) => m.eventType)).toEqual(['prediction.started', 'prediction.succeeded']);
    await settle(msgs.map((m) => m.id));
    const got = receiver.on(path);
    expect(got).toHaveLength(2);
    const wh = new Webhook(await secretOf());
    const payloads = got.map((r) => wh.verify(r.body, r.headers as Record<string, string>) as { type: string; data: { id: string; status: string; output: unknown } });
    expect(payloads.map((p) => p.type).sort()).toEqual(['prediction.started', 'prediction.succeeded']);
    const done = payloads.find((p) => p.type === 'prediction.succeeded')!;
    expect(done.data).toMatchObject({ id, status: 'succeeded', output: { text: 'hello' } });
    expect(got.map((r) => r.headers['webhook-id']).sort()).toEqual(msgs.map((m) => m.id).sort());
    expect(got[0]!.headers['content-type']).toBe('application/json');
    // Every attempt is recorded.
    for (const m of msgs) expect((await attemptsOf(m.id)).map((a) => ({ status: a.status, trigger: a.trigger, attempt: a.attempt }))).toEqual([{ status: 200, trigger: 'initial', attempt: 1 }]);
  });

  it('respects the events filter: "completed" gets only the final state, "start" only the start', async () => {
    const completed = await predict(receiver.url(freshPath()), ['completed'], 'failed');
    expect((await messagesOf(completed)).map((m) => m.eventType)).toEqual(['prediction.failed']);
    const start = await predict(receiver.url(freshPath()), ['start']);
    expect((await messagesOf(start)).map((m) => m.eventType)).toEqual(['prediction.started']);
    const output = await predict(receiver.url(freshPath()), ['output'], 'failed');
    expect(await messagesOf(output)).toEqual([]);
    const none = await predict(undefined, undefined);
    expect(await messagesOf(none)).toEqual([]);
  });

  it('makes no second message when the consumer sees an event again (at-least-once upstream)', async () => {
    const id = await predict(receiver.url(freshPath()), ['completed']);
    const events = (await db.prisma.predictionEvent.findMany({ where: { predictionId: id }, orderBy: { seq: 'asc' } })).map((e) => ({ id: e.id, type: e.type, orgId: e.orgId, predictionId: e.predictionId, data: e.data, occurredAt: e.createdAt }));
    await consumer.handleBatch(events as never);
    expect(await messagesOf(id)).toHaveLength(1);
  });
});

describe('retries', () => {
  it('retries after a 500 on the schedule, with the same webhook-id, keeping a bounded snippet of each answer', async () => {
    const path = freshPath();
    receiver.script(path, [{ status: 500, body: 'x'.repeat(5_000) }]);
    const id = await predict(receiver.url(path), ['completed']);
    const [m] = await messagesOf(id);
    await settle([m!.id]);
    const got = receiver.on(path);
    expect(got).toHaveLength(2);
    expect(got[0]!.headers['webhook-id']).toBe(got[1]!.headers['webhook-id']);
    const attempts = await attemptsOf(m!.id);
    expect(attempts.map((a) => ({ status: a.status, trigger: a.trigger }))).toEqual([
      { status: 500, trigger: 'initial' },
      { status: 200, trigger: 'retry' },
    ]);
    expect(attempts[0]!.response.length).toBe(1024);
    expect(await db.prisma.webhookMessage.findUniqueOrThrow({ where: { id: m!.id } })).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it("waits for the receiver's Retry-After rather than the (50 ms) schedule", async () => {
    const path = freshPath();
    receiver.script(path, [{ status: 503, headers: { 'retry-after': '1' } }]);
    const id = await predict(receiver.url(path), ['completed']);
    const [m] = await messagesOf(id);
    await settle([m!.id]);
    const [first, second] = receiver.on(path);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000);
    expect((await attemptsOf(m!.id)).map((a) => a.status)).toEqual([503, 200]);
  });

  it('fails the message once the schedule is exhausted, and a replay sends it again', async () => {
    const path = freshPath();
    receiver.script(path, [{ status: 500 }, { status: 502 }, { status: 500 }, { status: 504 }]);
    const id = await predict(receiver.url(path), ['completed']);
    const [m] = await messagesOf(id);
    await settle([m!.id]);
    // schedule [50, 50, 50]: 1 + 3 attempts, then failed
    expect((await attemptsOf(m!.id)).map((a) => a.status)).toEqual([500, 502, 500, 504]);
    expect(await db.prisma.webhookMessage.findUniqueOrThrow({ where: { id: m!.id } })).toMatchObject({ status: 'failed', nextAttemptAt: null });

    expect(await service.replay(owner(orgId), m!.id)).toEqual({ object: 'webhook_message', id: m!.id, status: 'pending' });
    await settle([m!.id]);
    const attempts = await attemptsOf(m!.id);
    expect(attempts.map((a) => ({ attempt: a.attempt, status: a.status, trigger: a.trigger })).at(-1)).toEqual({ attempt: 5, status: 200, trigger: 'replay' });
    expect(receiver.on(path)).toHaveLength(5);
    const page = await service.listAttempts(orgId, { messageId: m!.id }, { limit: 10 });
    expect(page.data.map((a) => a.status)).toEqual([200, 504, 500, 502, 500]);
  });
});

describe('organization endpoints', () => {
  it('a 410 Gone disables the endpoint: no retry, no further messages, until it is enabled again', async () => {
    const org = await insertOrg(db.prisma, 'gone-org');
    const key = await insertApiKey(db.prisma, 'p'.repeat(40), org.id);
    const path = freshPath();
    receiver.script(path, [{ status: 410 }]);
    const ep = await service.createEndpoint(owner(org.id), { url: receiver.url(path), eventTypes: ['prediction.succeeded'] });
    expect(ep.secret).toMatch(/^whsec_/);
    const first = await predict(undefined, undefined, 'succeeded', { orgId: org.id, apiKeyId: key.id });
    const msgs = await messagesOf(first);
    expect(msgs.map((m) => ({ type: m.eventType, endpoint: m.endpointId }))).toEqual([{ type: 'prediction.succeeded', endpoint: ep.id }]);
    await settle(msgs.map((m) => m.id));
    expect(receiver.on(path)).toHaveLength(1);
    expect(await service.getEndpoint(org.id, ep.id)).toMatchObject({ enabled: false, disabled_reason: 'gone' });
    expect(await db.prisma.webhookMessage.findUniqueOrThrow({ where: { id: msgs[0]!.id } })).toMatchObject({ status: 'failed' });
    // Replay is refused while disabled; later events make no message for it.
    await expect(service.replay(owner(org.id), msgs[0]!.id)).rejects.toMatchObject({ code: 'conflict' });
    const second = await predict(undefined, undefined, 'succeeded', { orgId: org.id, apiKeyId: key.id });
    expect(await messagesOf(second)).toEqual([]);
    // Enabled again, the replay goes through (the script is used up: 200), and the attempt is listed under the endpoint.
    expect(await service.updateEndpoint(owner(org.id), ep.id, { enabled: true })).toMatchObject({ enabled: true, disabled_reason: null });
    await service.replay(owner(org.id), msgs[0]!.id);
    await settle([msgs[0]!.id]);
    expect((await service.listAttempts(org.id, { endpointId: ep.id }, { limit: 10 })).data.map((a) => a.status)).toEqual([200, 410]);
    const verified = new Webhook(await secretOf(org.id)).verify(receiver.on(path)[1]!.body, receiver.on(path)[1]!.headers as Record<string, string>);
    expect(verified).toMatchObject({ type: 'prediction.succeeded', data: { id: first } });
  });

  it('signs with the new and the previous secret during the overlap after a rotation; after it, with the new one only', async () => {
    const path = freshPath();
    const before = await secretOf();
    const rotated = await service.rotateSecret(owner(orgId));
    expect(rotated.secret).not.toBe(before);
    expect(Date.parse(rotated.previous_valid_until!) - Date.parse(rotated.rotated_at)).toBe(3_600_000);
    const id = await predict(receiver.url(path), ['completed']);
    await settle((await messagesOf(id)).map((m) => m.id));
    const [r] = receiver.on(path);
    expect(String(r!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const s of [before, rotated.secret]) expect(new Webhook(s).verify(r!.body, r!.headers as Record<string, string>)).toMatchObject({ data: { id } });

    // A rotation with no overlap: the old secret no longer verifies.
    const next = await rotateSecret(db.prisma, orgId, 0);
    const path2 = freshPath();
    const id2 = await predict(receiver.url(path2), ['completed']);
    await settle((await messagesOf(id2)).map((m) => m.id));
    const [r2] = receiver.on(path2);
    expect(String(r2!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(new Webhook(next.secret).verify(r2!.body, r2!.headers as Record<string, string>)).toMatchObject({ data: { id: id2 } });
    expect(() => new Webhook(rotated.secret).verify(r2!.body, r2!.headers as Record<string, string>)).toThrow();
  });
});

describe('target addresses (SSRF)', () => {
  it('connects to the address it resolved and checked, once: a name only this resolver knows reaches the receiver', async () => {
    const path = freshPath();
    lookups = [];
    const id = await predict(receiver.url(path, 'hooks.test'), ['completed']);
    await settle((await messagesOf(id)).map((m) => m.id));
    const [r] = receiver.on(path);
    expect(r!.headers.host).toBe(`hooks.test:${receiver.port}`);
    expect(lookups).toEqual(['hooks.test']);
  });

  it('refuses, after resolution, names and literals that reach private, metadata or link-local addresses, while loopback is allowed', async () => {
    const cases: [string, RegExp][] = [
      [`http://inside.test:${receiver.port}/x`, /^refused: inside\.test resolves to 10\.0\.0\.5 \(private\)$/],
      [`http://metadata.test:${receiver.port}/x`, /^refused: metadata\.test resolves to 169\.254\.169\.254 \(metadata\)$/],
      [`http://mixed.test:${receiver.port}/x`, /^refused: mixed\.test resolves to fd00::1 \(private\)$/],
      [`http://169.254.169.254/latest/meta-data/`, /^refused: 169\.254\.169\.254 resolves to 169\.254\.169\.254 \(metadata\)$/],
      [`http://[::ffff:169.254.169.254]/`, /\(metadata\)$/],
      [`http://[fd00::1]:${receiver.port}/`, /\(private\)$/],
    ];
    const before = receiver.received.length;
    for (const [url, reason] of cases) {
      const id = await predict(url, ['completed']);
      const [m] = await messagesOf(id);
      await engine.runOnce();
      const [a] = await attemptsOf(m!.id);
      expect({ url, status: a!.status, response: a!.response }).toEqual({ url, status: null, response: expect.stringMatching(reason) });
      // A refusal is a failed attempt: it is retried on the schedule (DNS may change), never sent.
      expect(await db.prisma.webhookMessage.findUniqueOrThrow({ where: { id: m!.id } })).toMatchObject({ status: 'pending', attempts: 1 });
      await db.prisma.webhookMessage.update({ where: { id: m!.id }, data: { status: 'canceled' } });
    }
    expect(receiver.received.length).toBe(before);
  });
});

describe('retention', () => {
  it('deletes finished messages and their attempts past the retention cut-off, keeping pending ones', async () => {
    const done = await predict(receiver.url(freshPath()), ['completed']);
    const waiting = await predict('http://inside.test/never', ['completed']);
    const [d] = await messagesOf(done);
    const [w] = await messagesOf(waiting);
    await settle([d!.id]);
    await engine.runOnce(); // the refused one: one attempt, still pending
    const old = new Date(Date.now() - 40 * 86_400_000);
    await db.prisma.webhookMessage.updateMany({ where: { id: { in: [d!.id, w!.id] } }, data: { createdAt: old } });
    expect(await pruneMessages(db.prisma, new Date(Date.now() - 30 * 86_400_000))).toBeGreaterThanOrEqual(1);
    expect(await db.prisma.webhookMessage.findUnique({ where: { id: d!.id } })).toBeNull();
    expect(await attemptsOf(d!.id)).toEqual([]);
    expect(await db.prisma.webhookMessage.findUnique({ where: { id: w!.id } })).toMatchObject({ status: 'pending' });
  });
});

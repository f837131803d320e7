// Webhooks through the running gateway (no worker: predictions are created and canceled, which
// is enough for lifecycle events): endpoints managed by the API with the signing secret shown
// once, a prediction's own webhook with its events filter, deliveries verified by the reference
// library (standardwebhooks), messages and attempts listed, replay and rotation by API, and a
// metadata address refused at delivery time while loopback is allowed by config.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { repoRoot } from '#infra/db';
import { addKey, signup, startManagementEnv, type Caller, type Env } from '../support/management.js';
import { Receiver, type Received } from '../support/webhooks.js';

let env: Env;
let receiver: Receiver;
let admin: Caller;
let predictKey: Caller;
let orgId: string;
let image: string;

beforeAll(async () => {
  receiver = new Receiver();
  await receiver.start();
  env = await startManagementEnv('webhooks_e2e', {
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
    WEBHOOK_RETRY_SCHEDULE: '100ms,100ms',
    WEBHOOK_POLL_MS: '50',
    OUTBOX_POLL_MS: '50',
  });
  const owner = await signup(env, 'owner@hooks.test', 'Hooks');
  orgId = owner.orgId;
  admin = owner.session;
  predictKey = { key: (await addKey(env.db.prisma, orgId, ['predict'], 'live', 'predict')).secret };
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 120_000);

afterAll(async () => {
  await env?.stop();
  await receiver?.stop();
});

const base = () => `/v1/orgs/${orgId}`;
const verify = (secret: string, r: Received) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as { type: string; data: { id: string; status: string } };

/** Creates a prediction (it waits in the queue: no worker here) and cancels it. */
async function createAndCancel(body: Record<string, unknown> = {}): Promise<string> {
  const made = await env.call('POST', '/v1/predictions', predictKey, { feature: 'ocr-line', input: { image }, ...body });
  expect(made.status).toBe(202);
  const canceled = await env.call('POST', `/v1/predictions/${made.json.id}/cancel`, predictKey);
  expect(canceled.json.status).toBe('canceled');
  return made.json.id as string;
}

let secret: string;
let endpointId: string;

describe('webhooks through the API', () => {
  it('registers an endpoint, showing the signing secret once; refuses bad URLs and event types', async () => {
    const bad = await env.call('POST', `${base()}/webhook-endpoints`, admin, { url: 'ftp://hooks.test/x', event_types: ['prediction.exploded'] });
    expect({ status: bad.status, code: bad.json.code, paths: bad.json.errors.map((e: { path: string }) => e.path).sort() }).toEqual({ status: 422, code: 'validation_failed', paths: ['/event_types/0', '/url'] });

    const made = await env.call('POST', `${base()}/webhook-endpoints`, admin, { url: receiver.url('/org'), event_types: ['prediction.created', 'prediction.canceled'] });
    expect(made.status).toBe(201);
    expect(made.headers.get('cache-control')).toBe('no-store');
    expect(made.json).toMatchObject({ object: 'webhook_endpoint', url: receiver.url('/org'), event_types: ['prediction.created', 'prediction.canceled'], enabled: true, secret: expect.stringMatching(/^whsec_/) });
    secret = made.json.secret;
    endpointId = made.json.id;
    const second = await env.call('POST', `${base()}/webhook-endpoints`, admin, { url: receiver.url('/other'), enabled: false });
    expect(second.json.secret).toBeUndefined();
    const list = await env.call('GET', `${base()}/webhook-endpoints`, admin);
    expect(list.json.data.map((e: { id: string }) => e.id)).toEqual([second.json.id, endpointId]);
    expect(JSON.stringify(list.json)).not.toContain('whsec_');
    expect((await env.call('GET', `${base()}/webhook-secret`, admin)).json).toMatchObject({ exists: true, previous_valid_until: null });
  });

  it("delivers the organization's events and a prediction's own webhook (filtered), signed with the organization's secret", async () => {
    const id = await createAndCancel({ webhook: receiver.url('/mine'), webhook_events_filter: ['completed'] });
    const org = await receiver.waitFor('/org', 2);
    // Messages are sent in parallel: their order is not promised (the payload's timestamp says when each event happened).
    expect(org.map((r) => verify(secret, r)).map((p) => [p.type, p.data.id]).sort()).toEqual([
      ['prediction.canceled', id],
      ['prediction.created', id],
    ]);
    const [mine] = await receiver.waitFor('/mine', 1);
    expect(verify(secret, mine!)).toMatchObject({ type: 'prediction.canceled', data: { id, status: 'canceled' } });
    expect(receiver.on('/other')).toEqual([]); // disabled endpoint
  });

  it('lists messages and attempts, and replays a message with the same webhook-id', async () => {
    const msgs = await env.call('GET', `${base()}/webhook-messages?endpoint_id=${endpointId}`, admin);
    expect(msgs.status).toBe(200);
    expect(msgs.json.data.map((m: { event_type: string; status: string }) => [m.event_type, m.status])).toEqual([
      ['prediction.canceled', 'succeeded'],
      ['prediction.created', 'succeeded'],
    ]);
    const attempts = await env.call('GET', `${base()}/webhook-endpoints/${endpointId}/attempts`, admin);
    expect(attempts.json.data).toHaveLength(2);
    expect(attempts.json.data[0]).toMatchObject({ object: 'webhook_attempt', status: 200, trigger: 'initial', attempt: 1, response: 'ok', duration_ms: expect.any(Number) });

    const target = msgs.json.data[0];
    const replay = await env.call('POST', `${base()}/webhook-messages/${target.id}/replay`, admin);
    expect({ status: replay.status, body: replay.json }).toEqual({ status: 202, body: { object: 'webhook_message', id: target.id, status: 'pending' } });
    const org = await receiver.waitFor('/org', 3);
    expect(org[2]!.headers['webhook-id']).toBe(target.id);
    const own = await env.call('GET', `${base()}/webhook-messages/${target.id}/attempts`, admin);
    expect(own.json.data.map((a: { trigger: string; attempt: number }) => [a.trigger, a.attempt])).toEqual([
      ['replay', 2],
      ['initial', 1],
    ]);
    expect((await env.call('POST', `${base()}/webhook-messages/00000000-0000-7000-8000-000000000000/replay`, admin)).json.code).toBe('not_found');
  });

  it('rotates the secret by API: both the old and the new secret verify during the overlap', async () => {
    const rotated = await env.call('POST', `${base()}/webhook-secret/rotate`, admin);
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    expect(rotated.json.secret).toMatch(/^whsec_/);
    expect(rotated.json.secret).not.toBe(secret);
    const id = await createAndCancel();
    const org = await receiver.waitFor('/org', 5);
    for (const r of org.slice(3)) {
      expect(String(r.headers['webhook-signature']).split(' ')).toHaveLength(2);
      expect(verify(secret, r).data.id).toBe(id);
      expect(verify(rotated.json.secret, r).data.id).toBe(id);
    }
    secret = rotated.json.secret;
  });

  it('refuses a target resolving to the metadata address at delivery time, and records why', async () => {
    const id = await createAndCancel({ webhook: 'http://169.254.169.254/latest/meta-data/', webhook_events_filter: ['completed'] });
    const deadline = Date.now() + 15_000;
    let attempts: { status: number | null; response: string }[];
    for (;;) {
      const msgs = (await env.call('GET', `${base()}/webhook-messages?limit=100`, admin)).json.data as { id: string; status: string; endpoint_id: string | null; payload: { data: { id: string } } }[];
      const m = msgs.find((x) => x.payload.data.id === id && x.endpoint_id === null);
      if (m && m.status === 'failed') {
        attempts = (await env.call('GET', `${base()}/webhook-messages/${m.id}/attempts`, admin)).json.data;
        break;
      }
      if (Date.now() > deadline) throw new Error(`the message did not fail in time: ${JSON.stringify(m ?? msgs.map((x) => [x.status, x.payload]))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // schedule 100ms,100ms: three attempts, none sent
    expect(attempts.map((a) => [a.status, a.response])).toEqual(Array(3).fill([null, 'refused: 169.254.169.254 resolves to 169.254.169.254 (metadata)']));
  });

  it('sends nothing to a disabled endpoint, and deletes one (404 afterwards)', async () => {
    expect((await env.call('PATCH', `${base()}/webhook-endpoints/${endpointId}`, admin, { enabled: false })).json.enabled).toBe(false);
    const before = receiver.on('/org').length;
    const id = await createAndCancel({ webhook: receiver.url('/after'), webhook_events_filter: ['completed'] });
    await receiver.waitFor('/after', 1); // the prediction's own webhook still goes, after the endpoint's turn
    expect(verify(secret, receiver.on('/after')[0]!).data.id).toBe(id);
    expect(receiver.on('/org').length).toBe(before);
    expect((await env.call('DELETE', `${base()}/webhook-endpoints/${endpointId}`, admin)).status).toBe(204);
    expect((await env.call('GET', `${base()}/webhook-endpoints/${endpointId}`, admin)).json.code).toBe('not_found');
  });

  it('records every change in the audit log (never the secret)', async () => {
    const log = await env.call('GET', `${base()}/audit-log?limit=100`, admin);
    const actions = (log.json.data as { action: string }[]).map((e) => e.action);
    for (const a of ['webhook_endpoint.create', 'webhook_endpoint.update', 'webhook_endpoint.delete', 'webhook_secret.rotate', 'webhook_message.replay']) expect(actions).toContain(a);
    expect(JSON.stringify(log.json)).not.toContain('whsec_');
  });
});

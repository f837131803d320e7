// Two organizations, A and B. With A's session and keys, every management and prediction
// route is tried on B's organization (by id and by slug) and on B's objects (under B's org
// and under A's own): the answer is always 404, indistinguishable from an object that does
// not exist — never 403, never B's data — and nothing of B changes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { uuidv7 } from '#infra/db';
import { buildTinyClassifier, TINY_CLASSIFIER_SPEC } from '#tools/model-builders';
import { addMember, signup, startManagementEnv, type Caller, type Env, type Reply } from '../support/management.js';

interface Tenant {
  orgId: string;
  slug: string;
  ownerId: string;
  owner: Caller;
  adminKey: { id: string; secret: string };
  predictKey: { id: string; secret: string };
  predictionId: string;
  memberId: string;
  invitationId: string;
}

/** A model only B uploaded. */
const B_MODEL = `b-only-${randomBytes(3).toString('hex')}`;

let env: Env;
let A: Tenant;
let B: Tenant;

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
interface Route {
  method: Method;
  path: string;
  body?: unknown;
}

// Every management route under /v1/orgs/{org}; :member, :invitation and :key are B's objects.
const ROUTES: Route[] = [
  { method: 'GET', path: '/v1/orgs/:org' },
  { method: 'PATCH', path: '/v1/orgs/:org', body: { name: 'Taken over' } },
  { method: 'GET', path: '/v1/orgs/:org/members' },
  { method: 'GET', path: '/v1/orgs/:org/members/:member' },
  { method: 'PATCH', path: '/v1/orgs/:org/members/:member', body: { role: 'viewer' } },
  { method: 'DELETE', path: '/v1/orgs/:org/members/:member' },
  { method: 'GET', path: '/v1/orgs/:org/invitations' },
  { method: 'POST', path: '/v1/orgs/:org/invitations', body: { email: 'intruder@example.test', role: 'admin' } },
  { method: 'DELETE', path: '/v1/orgs/:org/invitations/:invitation' },
  { method: 'POST', path: '/v1/orgs/:org/api-keys', body: { name: 'intruder', scopes: ['predict'] } },
  { method: 'GET', path: '/v1/orgs/:org/api-keys' },
  { method: 'GET', path: '/v1/orgs/:org/api-keys/:key' },
  { method: 'PATCH', path: '/v1/orgs/:org/api-keys/:key', body: { name: 'stolen' } },
  { method: 'POST', path: '/v1/orgs/:org/api-keys/:key/revoke' },
  { method: 'POST', path: '/v1/orgs/:org/api-keys/:key/roll', body: { grace_period_seconds: 0 } },
  { method: 'GET', path: '/v1/orgs/:org/audit-log' },
  { method: 'GET', path: '/v1/orgs/:org/models' },
  { method: 'POST', path: '/v1/orgs/:org/models/intruder/versions/1', body: buildTinyClassifier(TINY_CLASSIFIER_SPEC) },
];

function fill(path: string, org: string, ids: { member: string; invitation: string; key: string }): string {
  return path.replace(':org', org).replace(':member', ids.member).replace(':invitation', ids.invitation).replace(':key', ids.key);
}

/** The body with the per-request and echoed parts taken out: what must not differ between "B's" and "nobody's". */
function shape(r: Reply, probes: string[]): unknown {
  let text = r.text;
  for (const p of probes) text = text.split(p).join('<probe>');
  const { requestId: _r, instance: _i, ...rest } = JSON.parse(text) as Record<string, unknown>;
  return { status: r.status, contentType: r.headers.get('content-type'), ...rest };
}

function callers(): [string, Caller][] {
  return [
    ["A's owner session", A.owner],
    ["A's admin key", { key: A.adminKey.secret }],
  ];
}

function bStrings(): string[] {
  return [B.orgId, B.slug, B.ownerId, B.adminKey.id, B.predictKey.id, B.predictionId, B.memberId, B.invitationId, 'Org B'];
}

async function tenant(name: string): Promise<Tenant> {
  const s = await signup(env, `owner@${name.toLowerCase().replace(/\W/g, '')}.test`, name);
  // Hundreds of key requests in a few seconds: a plan whose rate limits they stay under (test/gateway/rate-limits covers the limits).
  await env.db.prisma.organization.update({ where: { id: s.orgId }, data: { plan: { connect: { key: 'enterprise' } } } });
  const owner: Caller = s.session;
  const mk = async (body: unknown) => {
    const r = await env.call('POST', `/v1/orgs/${s.orgId}/api-keys`, owner, body);
    if (r.status !== 201) throw new Error(r.text);
    return { id: r.json.id as string, secret: r.json.secret as string };
  };
  const adminKey = await mk({ name: 'admin', scopes: ['admin'] });
  const predictKey = await mk({ name: 'predict', scopes: ['predict'] });
  const predictionId = uuidv7();
  await env.db.prisma.prediction.create({
    data: {
      id: predictionId,
      orgId: s.orgId,
      apiKeyId: predictKey.id,
      mode: 'live',
      feature: 'ocr-line',
      featureVersion: '1',
      status: 'starting',
      pool: 'ppocr-rec',
      spec: { kind: 'feature' },
      deadlineAt: new Date(Date.now() + 3_600_000),
      input: { create: { orgId: s.orgId, input: {} } },
    },
  });
  const member = await addMember(env.db.prisma, s.orgId, 'developer');
  const inv = await env.call('POST', `/v1/orgs/${s.orgId}/invitations`, owner, { email: `invitee@${s.slug}.test`, role: 'viewer' });
  if (inv.status !== 201) throw new Error(inv.text);
  return { orgId: s.orgId, slug: s.slug, ownerId: s.userId, owner, adminKey, predictKey, predictionId, memberId: member.memberId, invitationId: inv.json.id };
}

async function snapshotOfB() {
  const p = env.db.prisma;
  return {
    org: await p.organization.findUniqueOrThrow({ where: { id: B.orgId }, select: { name: true, slug: true } }),
    keys: await p.apiKey.findMany({ where: { orgId: B.orgId }, orderBy: { id: 'asc' }, select: { id: true, name: true, scopes: true, revokedAt: true, rolledToId: true, expiresAt: true } }),
    members: await p.membership.findMany({ where: { orgId: B.orgId }, orderBy: { id: 'asc' }, select: { id: true, role: true } }),
    invitations: await p.invitation.findMany({ where: { orgId: B.orgId }, orderBy: { id: 'asc' }, select: { id: true, revokedAt: true } }),
    predictions: await p.prediction.findMany({ where: { orgId: B.orgId }, select: { id: true, status: true } }),
    audit: await p.auditLog.count({ where: { orgId: B.orgId } }),
    models: await p.model.findMany({ where: { namespace: B.orgId }, select: { id: true, name: true, versions: { select: { version: true, sha256: true } } } }),
  };
}

let before: Awaited<ReturnType<typeof snapshotOfB>>;

beforeAll(async () => {
  env = await startManagementEnv('isolation');
  A = await tenant('Org A');
  B = await tenant('Org B');
  const upload = await env.call('POST', `/v1/orgs/${B.orgId}/models/${B_MODEL}/versions/1`, B.owner, buildTinyClassifier(TINY_CLASSIFIER_SPEC));
  if (upload.status !== 201) throw new Error(upload.text);
  expect(await env.db.prisma.auditLog.count({ where: { orgId: B.orgId } })).toBeGreaterThan(0);
  before = await snapshotOfB();
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

describe("A's credentials on B's organization", () => {
  it('get 404 on every management route, by id and by slug, the same answer as for an organization that does not exist', async () => {
    const bIds = { member: B.memberId, invitation: B.invitationId, key: B.predictKey.id };
    const nobody = { member: uuidv7(), invitation: uuidv7(), key: uuidv7() };
    for (const [who, caller] of callers()) {
      for (const route of ROUTES) {
        for (const [form, org, missing] of [
          ['id', B.orgId, uuidv7()],
          ['slug', B.slug, `no-such-org-${randomBytes(3).toString('hex')}`],
        ] as const) {
          const r = await env.call(route.method, fill(route.path, org, bIds), caller, route.body);
          const ref = await env.call(route.method, fill(route.path, missing, nobody), caller, route.body);
          const label = `${who} ${route.method} ${route.path} (B by ${form})`;
          expect({ label, status: r.status, code: r.json?.code }).toEqual({ label, status: 404, code: 'not_found' });
          expect({ label, body: shape(r, [org, ...Object.values(bIds)]) }).toEqual({ label, body: shape(ref, [missing, ...Object.values(nobody)]) });
          for (const s of bStrings()) if (s !== org && !Object.values(bIds).includes(s)) expect(r.text).not.toContain(s);
        }
      }
    }
  });
});

describe("A's credentials on A's organization with B's object ids", () => {
  it("get 404 for each of B's objects, the same answer as for an id that does not exist", async () => {
    const objectRoutes = ROUTES.filter((r) => /:(member|invitation|key)/.test(r.path));
    expect(objectRoutes).toHaveLength(8);
    for (const [who, caller] of callers()) {
      for (const route of objectRoutes) {
        const bId = route.path.includes(':member') ? B.memberId : route.path.includes(':invitation') ? B.invitationId : B.predictKey.id;
        const missing = uuidv7();
        const r = await env.call(route.method, fill(route.path, A.orgId, { member: bId, invitation: bId, key: bId }), caller, route.body);
        const ref = await env.call(route.method, fill(route.path, A.orgId, { member: missing, invitation: missing, key: missing }), caller, route.body);
        const label = `${who} ${route.method} ${route.path}`;
        expect({ label, status: r.status }).toEqual({ label, status: 404 });
        expect({ label, body: shape(r, [bId]) }).toEqual({ label, body: shape(ref, [missing]) });
        for (const s of bStrings()) if (s !== bId) expect(r.text).not.toContain(s);
      }
    }
  });

  it("never list B's objects, whatever the filter", async () => {
    const lists = [
      '/v1/orgs/:org/members?limit=100',
      '/v1/orgs/:org/invitations?limit=100',
      '/v1/orgs/:org/api-keys?limit=100&include_revoked=true',
      '/v1/orgs/:org/api-keys?limit=100&mode=test',
      '/v1/orgs/:org/audit-log?limit=100',
      `/v1/orgs/:org/audit-log?actor_id=${B.ownerId}`,
      `/v1/orgs/:org/audit-log?target_id=${B.predictKey.id}`,
      `/v1/orgs/:org/audit-log?target_id=${B.orgId}`,
    ];
    for (const [who, caller] of callers()) {
      for (const path of lists) {
        const r = await env.call('GET', path.replace(':org', A.orgId), caller);
        expect({ who, path, status: r.status }).toEqual({ who, path, status: 200 });
        expect(r.json.object).toBe('list');
        for (const s of bStrings()) expect({ who, path, leaked: r.text.includes(s) ? s : null }).toEqual({ who, path, leaked: null });
      }
      const filtered = await env.call('GET', `/v1/orgs/${A.orgId}/audit-log?actor_id=${B.ownerId}`, caller);
      expect(filtered.json.data).toEqual([]);
    }
    const mine = await env.call('GET', '/v1/orgs', A.owner);
    expect(mine.json.data.map((o: { id: string }) => o.id)).toEqual([A.orgId]);
    const byKey = await env.call('GET', '/v1/orgs', { key: A.adminKey.secret });
    expect(byKey.json.data.map((o: { id: string }) => o.id)).toEqual([A.orgId]);
    const me = await env.call('GET', '/v1/me', A.owner);
    for (const s of bStrings()) expect(me.text).not.toContain(s);
  });
});

describe("A's keys on B's predictions", () => {
  it('get 404 for get and cancel (as for an unknown id) and never see them in a list', async () => {
    const key: Caller = { key: A.predictKey.secret };
    const missing = uuidv7();
    for (const [method, suffix] of [
      ['GET', ''],
      ['POST', '/cancel'],
    ] as const) {
      const r = await env.call(method, `/v1/predictions/${B.predictionId}${suffix}`, key);
      const ref = await env.call(method, `/v1/predictions/${missing}${suffix}`, key);
      expect({ method, status: r.status, code: r.json.code }).toEqual({ method, status: 404, code: 'prediction_not_found' });
      expect(shape(r, [B.predictionId])).toEqual(shape(ref, [missing]));
    }
    const list = await env.call('GET', '/v1/predictions?limit=100', key);
    expect(list.status).toBe(200);
    expect(list.json.data.map((p: { id: string }) => p.id)).toEqual([A.predictionId]);
    const page = await env.call('GET', `/v1/predictions?starting_after=${B.predictionId}`, key);
    expect(page.text).not.toContain(B.predictionId);
  });
});

describe("A's keys on B's uploaded model", () => {
  it('get 404 on every model and v2 route, the same answer as for a model that does not exist', async () => {
    const key: Caller = { key: A.predictKey.secret };
    const missing = `no-such-model-${randomBytes(3).toString('hex')}`;
    const infer = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, TINY_CLASSIFIER_SPEC.inputSize], data: new Array(TINY_CLASSIFIER_SPEC.inputSize).fill(0) }] };
    const routes: [Method, string, unknown?][] = [
      ['GET', '/v1/models/:m'],
      ['GET', '/v2/models/:m'],
      ['GET', '/v2/models/:m/ready'],
      ['GET', '/v2/models/:m/versions/1'],
      ['GET', '/v2/models/:m/versions/1/ready'],
      ['POST', '/v2/models/:m/infer', infer],
      ['POST', '/v2/models/:m/versions/1/infer', infer],
    ];
    for (const [method, path, body] of routes) {
      const r = await env.call(method, path.replace(':m', B_MODEL), key, body);
      const ref = await env.call(method, path.replace(':m', missing), key, body);
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
      expect({ path, body: shape(r, [B_MODEL]) }).toEqual({ path, body: shape(ref, [missing]) });
    }
    const list = await env.call('GET', '/v1/models', key);
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(B_MODEL);
  });
});

describe('afterwards', () => {
  it('nothing of B has changed and B’s audit log holds nothing from A', async () => {
    expect(await snapshotOfB()).toEqual(before);
    const fromA = await env.db.prisma.auditLog.count({ where: { orgId: B.orgId, actorId: { in: [A.ownerId, A.adminKey.id, A.predictKey.id] } } });
    expect(fromA).toBe(0);
  });
});

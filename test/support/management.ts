// Helpers for the management-API suites: a gateway process on its own schema and Redis
// prefix, an HTTP client that speaks session cookie + CSRF or API key, and fixtures.
import { randomBytes } from 'node:crypto';
import { type KeyMode } from '#platform/api-keys';
import { uuidv7, type PrismaClient } from '#infra/db';
import { hashPassword } from '#platform/identity';
import { PLANS } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { startApp, type RunningApp } from './processes.js';
import { dropRedisPrefix } from './redis.js';
import { insertApiKey } from './keys.js';

export const PEPPER = 'mgmt-e2e-pepper-' + 'm'.repeat(32);
export const PASSWORD = 'correct horse battery staple';

/** A caller: a dashboard session (cookie + CSRF token) or an API key; null is anonymous. */
export type Caller = { session: string; csrf: string } | { key: string } | null;

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface Env {
  db: TestDatabase;
  gateway: RunningApp;
  prefix: string;
  call(method: string, path: string, caller: Caller, body?: unknown): Promise<Reply>;
  stop(): Promise<void>;
}

export async function startManagementEnv(label: string, extraEnv: Record<string, string> = {}): Promise<Env> {
  const db = await createTestDatabase(label);
  for (const { key, featurePrices: _prices, ...values } of PLANS) await db.prisma.plan.create({ data: { id: uuidv7(), key, ...values } });
  const prefix = `${label}_${randomBytes(4).toString('hex')}`;
  const gateway = await startApp('gateway', {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    // Tens of logins from one address in a minute: keep the failed-login throttle out of the way.
    AUTH_THROTTLE_PER_MINUTE: '10000',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
    ...extraEnv,
  });
  const call = async (method: string, path: string, caller: Caller, body?: unknown): Promise<Reply> => {
    const headers: Record<string, string> = {};
    if (caller && 'key' in caller) headers['authorization'] = `Bearer ${caller.key}`;
    if (caller && 'session' in caller) {
      headers['cookie'] = `stratum_session=${caller.session}`;
      headers['x-csrf-token'] = caller.csrf;
    }
    // A Uint8Array body goes as raw bytes (model uploads); anything else as JSON.
    const binary = body instanceof Uint8Array;
    if (body !== undefined) headers['content-type'] = binary ? 'application/octet-stream' : 'application/json';
    const payload = body === undefined ? undefined : binary ? body : JSON.stringify(body);
    const res = await fetch(gateway.url + path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  return {
    db,
    gateway,
    prefix,
    call,
    async stop() {
      await gateway.stop();
      await db.drop();
      await dropRedisPrefix(prefix);
    },
  };
}

/** Logs in over HTTP; the session cookie's secret and the CSRF token. */
export async function login(env: Env, email: string): Promise<{ session: string; csrf: string }> {
  const r = await env.call('POST', '/v1/auth/login', null, { email, password: PASSWORD });
  if (r.status !== 200) throw new Error(`login ${email}: ${r.status} ${r.text}`);
  return sessionOf(r);
}

function sessionOf(r: Reply): { session: string; csrf: string } {
  const cookie = /stratum_session=([^;]+)/.exec(r.headers.get('set-cookie') ?? '');
  if (!cookie) throw new Error(`no session cookie in ${r.headers.get('set-cookie')}`);
  return { session: cookie[1]!, csrf: r.json.csrf_token as string };
}

/** Signs up over HTTP: the user, their new organization, and a session. */
export async function signup(env: Env, email: string, organization: string): Promise<{ userId: string; orgId: string; slug: string; session: { session: string; csrf: string } }> {
  const s = await env.call('POST', '/v1/auth/signup', null, { email, password: PASSWORD, organization_name: organization });
  if (s.status !== 202) throw new Error(`signup ${email}: ${s.status} ${s.text}`);
  // Sign-up starts no session (it answers the same for a taken email): log in.
  const r = await env.call('POST', '/v1/auth/login', null, { email, password: PASSWORD });
  if (r.status !== 200) throw new Error(`login ${email}: ${r.status} ${r.text}`);
  const m = r.json.memberships[0];
  return { userId: r.json.id, orgId: m.org_id, slug: m.slug, session: sessionOf(r) };
}

/** A user with a password and a membership (straight into the database). */
export async function addMember(prisma: PrismaClient, orgId: string, role: 'owner' | 'admin' | 'developer' | 'billing' | 'viewer', email = `${role}-${randomBytes(4).toString('hex')}@example.test`) {
  const userId = uuidv7();
  await prisma.user.create({ data: { id: userId, email, passwordHash: await hashPassword(PASSWORD) } });
  const memberId = uuidv7();
  await prisma.membership.create({ data: { id: memberId, orgId, userId, role } });
  return { userId, memberId, email };
}

/** A user and membership without a password (cheap: for rows that are only acted upon). */
export async function addBareMember(prisma: PrismaClient, orgId: string, role: 'admin' | 'developer' | 'billing' | 'viewer' = 'viewer') {
  const userId = uuidv7();
  await prisma.user.create({ data: { id: userId, email: `bare-${randomBytes(5).toString('hex')}@example.test` } });
  const memberId = uuidv7();
  await prisma.membership.create({ data: { id: memberId, orgId, userId, role } });
  return memberId;
}

export async function addInvitation(prisma: PrismaClient, orgId: string): Promise<string> {
  const id = uuidv7();
  await prisma.invitation.create({
    data: { id, orgId, email: `invitee-${randomBytes(4).toString('hex')}@example.test`, role: 'viewer', tokenDigest: randomBytes(32).toString('hex'), expiresAt: new Date(Date.now() + 86_400_000) },
  });
  return id;
}

export async function addKey(prisma: PrismaClient, orgId: string, scopes: string[], mode: KeyMode = 'live', name = scopes.join('+')): Promise<{ id: string; secret: string }> {
  const { id, secret } = await insertApiKey(prisma, PEPPER, orgId, { mode, scopes, name });
  return { id, secret };
}

// ApiKeysRepository against a real Postgres (own schema): tenancy, audit in the same
// transaction, roll semantics, idempotent revoke, concurrent rolls.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppConfig, readProcessEnv } from '#infra/config';
import { uuidv7 } from '#infra/db';
import type { Actor } from '#platform/tenancy';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/db.js';
import { digestApiKey } from '#platform/api-keys';
import { ApiKeysRepository } from './api-keys.repository.js';

const PEPPER = 'repo-spec-pepper-' + 'p'.repeat(32);
let db: TestDatabase;
let repo: ApiKeysRepository;
let orgA: string;
let orgB: string;
let owner: Actor;
let ownerB: Actor;

async function org(slug: string, planId: string): Promise<string> {
  const id = uuidv7();
  await db.prisma.organization.create({ data: { id, slug, name: slug, planId } });
  return id;
}

async function auditOf(targetId: string) {
  return db.prisma.auditLog.findMany({ where: { targetId }, orderBy: { id: 'asc' } });
}

beforeAll(async () => {
  db = await createTestDatabase('api_keys_repo');
  repo = new ApiKeysRepository(db.prisma, new AppConfig({ ...readProcessEnv(), API_KEY_PEPPER: PEPPER }));
  const plan = await db.prisma.plan.create({ data: { id: uuidv7(), key: 'free', name: 'Free', rateLimitPerMinute: 60 } });
  orgA = await org('a', plan.id);
  orgB = await org('b', plan.id);
  const userId = uuidv7();
  await db.prisma.user.create({ data: { id: userId, email: 'owner@a.test' } });
  owner = { kind: 'user', userId, orgId: orgA, role: 'owner', ip: '203.0.113.7' };
  const userB = uuidv7();
  await db.prisma.user.create({ data: { id: userB, email: 'owner@b.test' } });
  ownerB = { kind: 'user', userId: userB, orgId: orgB, role: 'owner', ip: null };
});

afterAll(async () => {
  await db?.drop();
});

describe('ApiKeysRepository', () => {
  it('creates a key: the secret once, only its digest stored, an audit entry without secrets', async () => {
    const { key } = await repo.create(owner, { name: 'ci', mode: 'test', scopes: ['predict', 'usage:read'], expiresAt: null, rateLimitPerMinute: 30 });
    expect(key.secret).toMatch(/^sk_test_[0-9A-Za-z]{32}$/);
    expect(key).toMatchObject({
      object: 'api_key',
      name: 'ci',
      mode: 'test',
      livemode: false,
      display_prefix: key.secret.slice(0, 12),
      scopes: ['predict', 'usage:read'],
      rate_limit_per_minute: 30,
      status: 'active',
      created_by: { type: 'user', id: (owner as { userId: string }).userId },
      rolled_to: null,
    });
    const row = await db.prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } });
    expect(row.digest).toBe(digestApiKey(key.secret, PEPPER));
    const got = await repo.get({ orgId: orgA }, key.id);
    expect(got).not.toHaveProperty('secret');
    expect(JSON.stringify(got)).not.toContain(row.digest);

    const [entry, ...more] = await auditOf(key.id);
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ orgId: orgA, action: 'api_key.create', actorType: 'user', actorId: (owner as { userId: string }).userId, ip: '203.0.113.7', targetType: 'api_key' });
    const text = JSON.stringify(entry!.changes);
    expect(text).not.toContain(key.secret);
    expect(text).not.toContain(row.digest);
    expect(entry!.changes).toMatchObject({ after: { name: 'ci', mode: 'test', scopes: ['predict', 'usage:read'] } });
  });

  it('names a key as the creator of keys it created (from the audit log)', async () => {
    const { key: admin } = await repo.create(owner, { name: 'automation', mode: 'live', scopes: ['admin'], expiresAt: null, rateLimitPerMinute: null });
    const keyActor: Actor = { kind: 'api_key', keyId: admin.id, orgId: orgA, scopes: ['admin'], mode: 'live', ip: null };
    const { key } = await repo.create(keyActor, { name: 'made by a key', mode: 'live', scopes: ['predict'], expiresAt: null, rateLimitPerMinute: null });
    expect(key.created_by).toEqual({ type: 'api_key', id: admin.id });
    expect((await repo.get({ orgId: orgA }, key.id)).created_by).toEqual({ type: 'api_key', id: admin.id });
  });

  it('rolls back the change when its audit entry cannot be written', async () => {
    const before = await db.prisma.apiKey.count();
    const broken: Actor = { kind: 'user', userId: 'not-a-uuid', orgId: orgA, role: 'owner', ip: null };
    await expect(repo.create(broken, { name: 'x', mode: 'live', scopes: ['predict'], expiresAt: null, rateLimitPerMinute: null })).rejects.toThrow();
    expect(await db.prisma.apiKey.count()).toBe(before);
  });

  it('never shows or touches another organization’s key, and treats a malformed id as unknown', async () => {
    const { key } = await repo.create(ownerB, { name: 'b', mode: 'live', scopes: ['predict'], expiresAt: null, rateLimitPerMinute: null });
    for (const id of [key.id, 'nope', '00000000-0000-0000-0000-000000000000']) {
      await expect(repo.get({ orgId: orgA }, id)).rejects.toMatchObject({ status: 404, code: 'api_key_not_found' });
      await expect(repo.update(owner, id, { name: 'stolen' })).rejects.toMatchObject({ status: 404 });
      await expect(repo.revoke(owner, id)).rejects.toMatchObject({ status: 404 });
      await expect(repo.roll(owner, id, 60)).rejects.toMatchObject({ status: 404 });
    }
    const list = await repo.list({ orgId: orgA }, { includeRevoked: true }, { limit: 100 });
    expect(list.data.map((k) => k.id)).not.toContain(key.id);
    const row = await db.prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } });
    expect(row).toMatchObject({ name: 'b', revokedAt: null, rolledToId: null });
  });

  it('updates only what changed, audits before/after, and asks to invalidate unless only the name changed', async () => {
    const { key } = await repo.create(owner, { name: 'u', mode: 'live', scopes: ['predict'], expiresAt: null, rateLimitPerMinute: null });
    const renamed = await repo.update(owner, key.id, { name: 'u2', scopes: ['predict'] });
    expect(renamed.key.name).toBe('u2');
    expect(renamed.invalidate).toEqual([]);
    const until = new Date(Date.now() + 3_600_000);
    const changed = await repo.update(owner, key.id, { scopes: ['predict', 'usage:read'], expiresAt: until, rateLimitPerMinute: 10 });
    expect(changed.key).toMatchObject({ scopes: ['predict', 'usage:read'], expires_at: until.toISOString(), rate_limit_per_minute: 10 });
    expect(changed.invalidate).toEqual([(await db.prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } })).digest]);
    const noop = await repo.update(owner, key.id, { name: 'u2' });
    expect(noop.invalidate).toEqual([]);
    const entries = await auditOf(key.id);
    expect(entries.map((e) => e.action)).toEqual(['api_key.create', 'api_key.update', 'api_key.update']);
    expect(entries[1]!.changes).toEqual({ before: { name: 'u' }, after: { name: 'u2' } });
    expect(entries[2]!.changes).toEqual({
      before: { scopes: ['predict'], expires_at: null, rate_limit_per_minute: null },
      after: { scopes: ['predict', 'usage:read'], expires_at: until.toISOString(), rate_limit_per_minute: 10 },
    });
  });

  it('refuses to escalate through update: a developer cannot add admin, nor edit an admin key', async () => {
    const dev: Actor = { kind: 'user', userId: (owner as { userId: string }).userId, orgId: orgA, role: 'developer', ip: null };
    const { key } = await repo.create(owner, { name: 'p', mode: 'live', scopes: ['predict'], expiresAt: null, rateLimitPerMinute: null });
    await expect(repo.update(dev, key.id, { scopes: ['admin'] })).rejects.toMatchObject({ status: 403, code: 'forbidden' });
    const { key: adminKey } = await repo.create(owner, { name: 'adm', mode: 'live', scopes: ['admin'], expiresAt: null, rateLimitPerMinute: null });
    await expect(repo.update(dev, adminKey.id, { name: 'mine' })).rejects.toMatchObject({ status: 403 });
    await expect(repo.roll(dev, adminKey.id, 0)).rejects.toMatchObject({ status: 403 });
    expect((await auditOf(adminKey.id)).map((e) => e.action)).toEqual(['api_key.create']);
  });

  it('revokes idempotently: one audit entry, the same answer twice, and a revoked key cannot be changed', async () => {
    const { key } = await repo.create(owner, { name: 'r', mode: 'live', scopes: ['predict'], expiresAt: null, rateLimitPerMinute: null });
    const first = await repo.revoke(owner, key.id);
    const second = await repo.revoke(owner, key.id);
    expect(first.key.status).toBe('revoked');
    expect(second.key).toEqual(first.key);
    expect(first.invalidate).toHaveLength(1);
    expect((await auditOf(key.id)).map((e) => e.action)).toEqual(['api_key.create', 'api_key.revoke']);
    await expect(repo.update(owner, key.id, { name: 'x' })).rejects.toMatchObject({ status: 409, code: 'conflict' });
    await expect(repo.roll(owner, key.id, 0)).rejects.toMatchObject({ status: 409 });
  });

  it('rolls: a new secret with the same settings, the old key expires after the grace period and points to the new one', async () => {
    const expiry = new Date(Date.now() + 30 * 24 * 3600 * 1000);
    const { key: old } = await repo.create(owner, { name: 'roll-me', mode: 'test', scopes: ['predict'], expiresAt: expiry, rateLimitPerMinute: 7 });
    const t0 = Date.now();
    const { key: fresh, invalidate } = await repo.roll(owner, old.id, 3600);
    expect(fresh.secret).toMatch(/^sk_test_/);
    expect(fresh.secret).not.toBe(old.secret);
    expect(fresh).toMatchObject({ name: 'roll-me', mode: 'test', scopes: ['predict'], rate_limit_per_minute: 7, expires_at: expiry.toISOString(), status: 'active' });
    const after = await repo.get({ orgId: orgA }, old.id);
    expect(after.status).toBe('rolled');
    expect(after.rolled_to).toBe(fresh.id);
    const graceEnd = Date.parse(after.expires_at!);
    expect(graceEnd).toBeGreaterThanOrEqual(t0 + 3_600_000 - 1_000);
    expect(graceEnd).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(invalidate).toEqual([(await db.prisma.apiKey.findUniqueOrThrow({ where: { id: old.id } })).digest]);
    expect((await auditOf(old.id)).map((e) => e.action)).toEqual(['api_key.create', 'api_key.roll']);
    const [created] = await auditOf(fresh.id);
    expect(created).toMatchObject({ action: 'api_key.create', changes: { after: { rolled_from: old.id } } });
    await expect(repo.roll(owner, old.id, 0)).rejects.toMatchObject({ status: 409 });
  });

  it('never extends a key by rolling it: the grace ends at the old expiry when that comes first', async () => {
    const soon = new Date(Date.now() + 60_000);
    const { key } = await repo.create(owner, { name: 'short', mode: 'live', scopes: ['predict'], expiresAt: soon, rateLimitPerMinute: null });
    await repo.roll(owner, key.id, 7 * 24 * 3600);
    expect((await repo.get({ orgId: orgA }, key.id)).expires_at).toBe(soon.toISOString());
  });

  it('lets exactly one of two concurrent rolls win', async () => {
    const { key } = await repo.create(owner, { name: 'race', mode: 'live', scopes: ['predict'], expiresAt: null, rateLimitPerMinute: null });
    const results = await Promise.allSettled([repo.roll(owner, key.id, 60), repo.roll(owner, key.id, 60)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { status: 409 } });
    expect(await db.prisma.apiKey.count({ where: { orgId: orgA, name: 'race' } })).toBe(2);
  });

  it('lists newest first in cursor pages, filtered by mode, revoked keys only on request', async () => {
    const scope = { orgId: orgA };
    const all = await repo.list(scope, { includeRevoked: true }, { limit: 100 });
    const ids = all.data.map((k) => k.id);
    expect(ids).toEqual([...ids].sort().reverse());
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await repo.list(scope, { includeRevoked: true }, { limit: 3, ...(after ? { after } : {}) });
      seen.push(...page.data.map((k) => k.id));
      if (!page.has_more) break;
      after = page.next_cursor!;
    }
    expect(seen).toEqual(ids);
    const active = await repo.list(scope, { includeRevoked: false }, { limit: 100 });
    expect(active.data.every((k) => k.revoked_at === null)).toBe(true);
    expect(active.data.length).toBeLessThan(ids.length);
    const tests = await repo.list(scope, { mode: 'test', includeRevoked: true }, { limit: 100 });
    expect(tests.data.length).toBeGreaterThan(0);
    expect(tests.data.every((k) => k.mode === 'test' && !k.livemode)).toBe(true);
  });
});

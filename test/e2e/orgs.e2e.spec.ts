// Organizations, members (owner rules), invitations and their audit entries, through the
// gateway's controllers (in-process app.inject), real Postgres and Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Post, UseGuards } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ConfigModule } from '#infra/config';
import { OrgGuard, RequirePermission } from '#platform/tenancy';
import { createKey, Client, expectProblem, startAccountsApp, type AccountsApp } from './accounts-app.js';

let a: AccountsApp;
let owner: Client;
let orgId: string;
let slug: string;

async function member(email: string, role: string): Promise<{ client: Client; memberId: string }> {
  const inv = await owner.call('POST', `/v1/orgs/${orgId}/invitations`, { body: { email, role } });
  expect(inv.status).toBe(201);
  const client = new Client(a);
  const acc = await client.call('POST', '/v1/invitations/accept', { body: { token: inv.json.token, password: 'a long password' } });
  expect(acc.status).toBe(200);
  const m = await a.db.prisma.membership.findFirstOrThrow({ where: { orgId, user: { email } } });
  return { client, memberId: m.id };
}

/**
 * Polls Postgres until `count` backends wait, directly or through a chain of waiters, on a lock
 * held by backend `holder` (pg_blocking_pids). A condition, not a sleep: gives up after 20 s.
 */
async function waitUntilBlockedBehind(holder: number, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rows = await a.db.prisma.$queryRaw<{ pid: number; blockers: number[] }[]>`
      SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0`;
    const behind = new Set<number>([holder]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const r of rows) {
        if (behind.has(r.pid) || !r.blockers.some((b) => behind.has(b))) continue;
        behind.add(r.pid);
        grew = true;
      }
    }
    if (behind.size - 1 >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${behind.size - 1} of ${count} requests reached the lock`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function auditActions(): Promise<string[]> {
  return (await a.db.prisma.auditLog.findMany({ where: { orgId }, orderBy: { id: 'asc' } })).map((e) => e.action);
}

beforeAll(async () => {
  a = await startAccountsApp('orgs');
  owner = new Client(a);
  const r = await owner.signup('owner@acme.test', 'owner password', { organization_name: 'Acme' });
  orgId = r.json.memberships[0].org_id;
  slug = r.json.memberships[0].slug;
});

afterAll(async () => {
  await a.close();
});

describe('organizations', () => {
  it('creates one (creator is owner), lists the user\'s, reads by id or slug, renames with an audit entry', async () => {
    const c = await owner.call('POST', '/v1/orgs', { body: { name: 'Acme Research', slug: 'acme-research' } });
    expect(c.status).toBe(201);
    expect(c.json).toMatchObject({ object: 'organization', slug: 'acme-research', name: 'Acme Research', role: 'owner' });
    expectProblem(await owner.call('POST', '/v1/orgs', { body: { name: 'Dup', slug: 'acme-research' } }), 409, 'conflict');
    expectProblem(await owner.call('POST', '/v1/orgs', { body: { name: 'Bad', slug: 'Not A Slug' } }), 422, 'validation_failed');

    const list = await owner.call('GET', '/v1/orgs');
    expect(list.json.data.map((o: any) => o.slug).sort()).toEqual(['acme', 'acme-research']);
    expect((await owner.call('GET', `/v1/orgs/${slug}`)).json.id).toBe(orgId);

    const before = await a.db.prisma.auditLog.count({ where: { orgId: c.json.id } });
    const p = await owner.call('PATCH', `/v1/orgs/${c.json.id}`, { body: { name: 'Acme R&D' } });
    expect(p.json.name).toBe('Acme R&D');
    const entries = await a.db.prisma.auditLog.findMany({ where: { orgId: c.json.id }, orderBy: { id: 'asc' } });
    expect(entries).toHaveLength(before + 1);
    expect(entries.at(-1)).toMatchObject({ action: 'org.update', targetId: c.json.id, changes: { before: { name: 'Acme Research' }, after: { name: 'Acme R&D' } } });
    expectProblem(await owner.call('PATCH', `/v1/orgs/${c.json.id}`, { body: { name: 'x', plan: 'pro' } }), 422, 'validation_failed');
  });

  it('an API key lists only its own organization and needs a scope granting org:read', async () => {
    const key = await createKey(a, orgId, ['usage:read']);
    const r = await new Client(a).call('GET', '/v1/orgs', { key });
    expect(r.json.data.map((o: any) => o.id)).toEqual([orgId]);
    const predictOnly = await createKey(a, orgId, ['predict']);
    expectProblem(await new Client(a).call('GET', '/v1/orgs', { key: predictOnly }), 403, 'forbidden');
    expectProblem(await new Client(a).call('GET', `/v1/orgs/${orgId}`, { key: predictOnly }), 403, 'forbidden');
  });

  it('unknown org, another org\'s key and a non-member all get the same 404', async () => {
    const stranger = new Client(a);
    const s = await stranger.signup('stranger@other.test', 'stranger password');
    const otherOrg = s.json.memberships[0].org_id as string;
    const otherKey = await createKey(a, otherOrg, ['admin']);
    const bodies = [
      await stranger.call('GET', `/v1/orgs/${orgId}`),
      await stranger.call('GET', `/v1/orgs/${slug}/members`),
      await stranger.call('GET', '/v1/orgs/00000000-0000-7000-8000-000000000000'),
      await stranger.call('GET', '/v1/orgs/no-such-org'),
      await new Client(a).call('GET', `/v1/orgs/${orgId}`, { key: otherKey }),
    ];
    for (const b of bodies) expectProblem(b, 404, 'not_found');
    const strip = (j: any) => ({ ...j, requestId: undefined, instance: undefined });
    for (const b of bodies) expect(strip(b.json)).toEqual(strip(bodies[0]!.json));
    // Object ids of another organization: 404 too (the member exists, but not in the caller's org).
    const ownerMember = await a.db.prisma.membership.findFirstOrThrow({ where: { orgId } });
    expectProblem(await stranger.call('GET', `/v1/orgs/${otherOrg}/members/${ownerMember.id}`), 404, 'not_found');
    expectProblem(await stranger.call('DELETE', `/v1/orgs/${otherOrg}/members/${ownerMember.id}`), 404, 'not_found');
    expect(await a.db.prisma.membership.count({ where: { id: ownerMember.id } })).toBe(1);
  });
});

describe('members', () => {
  it('lists members newest first in cursor pages', async () => {
    await member('p1@acme.test', 'viewer');
    await member('p2@acme.test', 'viewer');
    const first = await owner.call('GET', `/v1/orgs/${orgId}/members?limit=2`);
    expect(first.json).toMatchObject({ object: 'list', has_more: true });
    expect(first.json.data.map((m: any) => m.user.email)).toEqual(['p2@acme.test', 'p1@acme.test']);
    const next = await owner.call('GET', `/v1/orgs/${orgId}/members?limit=2&starting_after=${first.json.next_cursor}`);
    expect(next.json.data.map((m: any) => m.user.email)).toContain('owner@acme.test');
    expectProblem(await owner.call('GET', `/v1/orgs/${orgId}/members?limit=0`), 422, 'validation_failed');
    expectProblem(await owner.call('GET', `/v1/orgs/${orgId}/members?starting_after=nope`), 422, 'validation_failed');
  });

  it('viewers read but cannot write (403); only owners grant or take the owner role', async () => {
    const viewer = await member('viewer@acme.test', 'viewer');
    const admin = await member('admin@acme.test', 'admin');
    expect((await viewer.client.call('GET', `/v1/orgs/${orgId}/members`)).status).toBe(200);
    expectProblem(await viewer.client.call('PATCH', `/v1/orgs/${orgId}/members/${viewer.memberId}`, { body: { role: 'admin' } }), 403, 'forbidden');

    expectProblem(await admin.client.call('PATCH', `/v1/orgs/${orgId}/members/${viewer.memberId}`, { body: { role: 'owner' } }), 403, 'forbidden');
    const ok = await admin.client.call('PATCH', `/v1/orgs/${orgId}/members/${viewer.memberId}`, { body: { role: 'developer' } });
    expect(ok.json).toMatchObject({ id: viewer.memberId, role: 'developer' });
    const ownerMember = await a.db.prisma.membership.findFirstOrThrow({ where: { orgId, role: 'owner' } });
    expectProblem(await admin.client.call('DELETE', `/v1/orgs/${orgId}/members/${ownerMember.id}`), 403, 'forbidden');
    expectProblem(await admin.client.call('POST', `/v1/orgs/${orgId}/invitations`, { body: { email: 'x@acme.test', role: 'owner' } }), 403, 'forbidden');
    expectProblem(await owner.call('PATCH', `/v1/orgs/${orgId}/members/${viewer.memberId}`, { body: { role: 'emperor' } }), 422, 'validation_failed');

    const entry = await a.db.prisma.auditLog.findFirstOrThrow({ where: { orgId, action: 'member.update', targetId: viewer.memberId } });
    expect(entry).toMatchObject({ actorType: 'user', changes: { before: { role: 'viewer' }, after: { role: 'developer' } } });
  });

  it('the last owner can be neither demoted nor removed (409), also under concurrent demotions', async () => {
    const ownerMember = await a.db.prisma.membership.findFirstOrThrow({ where: { orgId, user: { email: 'owner@acme.test' } } });
    expectProblem(await owner.call('PATCH', `/v1/orgs/${orgId}/members/${ownerMember.id}`, { body: { role: 'admin' } }), 409, 'last_owner');
    expectProblem(await owner.call('DELETE', `/v1/orgs/${orgId}/members/${ownerMember.id}`), 409, 'last_owner');

    // Two owners demote each other at the same time: exactly one succeeds. The interleaving is
    // forced: the test holds both membership rows locked, so each demotion that gets past its
    // checks waits at its UPDATE; it lets go only once both requests are stuck behind it
    // (directly, or behind the other request's organization lock). Without the organization
    // lock both would have read "two owners" and both demotions would commit.
    const second = await member('second-owner@acme.test', 'viewer');
    expect((await owner.call('PATCH', `/v1/orgs/${orgId}/members/${second.memberId}`, { body: { role: 'owner' } })).status).toBe(200);
    let demotions!: Promise<[Awaited<ReturnType<Client['call']>>, Awaited<ReturnType<Client['call']>>]>;
    await a.db.prisma.$transaction(
      async (tx) => {
        const [{ pid }] = await tx.$queryRaw<[{ pid: number }]>`SELECT pg_backend_pid() AS pid`;
        await tx.$queryRaw`SELECT id FROM "Membership" WHERE id IN (${ownerMember.id}::uuid, ${second.memberId}::uuid) FOR UPDATE`;
        demotions = Promise.all([
          owner.call('PATCH', `/v1/orgs/${orgId}/members/${second.memberId}`, { body: { role: 'admin' } }),
          second.client.call('PATCH', `/v1/orgs/${orgId}/members/${ownerMember.id}`, { body: { role: 'admin' } }),
        ]);
        await waitUntilBlockedBehind(pid, 2);
      },
      { timeout: 30_000 },
    );
    const [r1, r2] = await demotions;
    // The loser was either demoted first (no longer an owner: 403) or would remove the last owner (409).
    const statuses = [r1.status, r2.status].sort();
    expect(statuses[0]).toBe(200);
    expect([403, 409]).toContain(statuses[1]);
    expect(await a.db.prisma.membership.count({ where: { orgId, role: 'owner' } })).toBe(1);
  });

  it('removes a member with an audit entry; the removed user loses access (404)', async () => {
    const gone = await member('leaver@acme.test', 'developer');
    const r = await owner.call('DELETE', `/v1/orgs/${orgId}/members/${gone.memberId}`);
    expect(r.status).toBe(204);
    expectProblem(await gone.client.call('GET', `/v1/orgs/${orgId}`), 404, 'not_found');
    const entry = await a.db.prisma.auditLog.findFirstOrThrow({ where: { orgId, action: 'member.remove', targetId: gone.memberId } });
    expect(entry.changes).toMatchObject({ before: { role: 'developer' } });
    expectProblem(await owner.call('DELETE', `/v1/orgs/${orgId}/members/${gone.memberId}`), 404, 'not_found');
  });
});

describe('invitations', () => {
  it('stores only a digest of the token, and the token works exactly once', async () => {
    const inv = await owner.call('POST', `/v1/orgs/${orgId}/invitations`, { body: { email: 'New.Person@Acme.test', role: 'billing' } });
    expect(inv.status).toBe(201);
    // item 10: the one answer that carries the token is never cached.
    expect(inv.headers['cache-control']).toBe('no-store');
    expect(inv.json).toMatchObject({ object: 'invitation', email: 'new.person@acme.test', role: 'billing', status: 'pending', token: expect.stringMatching(/^inv_/) });
    expect(Date.parse(inv.json.expires_at) - Date.now()).toBeGreaterThan(7 * 24 * 3600 * 1000 - 60_000);
    const row = await a.db.prisma.invitation.findUniqueOrThrow({ where: { id: inv.json.id } });
    expect(row.tokenDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(inv.json.token);
    const listed = await owner.call('GET', `/v1/orgs/${orgId}/invitations`);
    expect(listed.json.data.find((i: any) => i.id === inv.json.id)).toBeDefined();
    expect(JSON.stringify(listed.json)).not.toContain(inv.json.token);

    const invitee = new Client(a);
    expectProblem(await invitee.call('POST', '/v1/invitations/accept', { body: { token: inv.json.token } }), 422, 'validation_failed');
    const ok = await invitee.call('POST', '/v1/invitations/accept', { body: { token: inv.json.token, password: 'billing person pw', name: 'Bill' } });
    expect(ok.status).toBe(200);
    expect(ok.json.user.memberships).toEqual([expect.objectContaining({ org_id: orgId, role: 'billing' })]);
    expect((await invitee.call('GET', '/v1/me')).json.email).toBe('new.person@acme.test');

    // Reuse with the RIGHT password (a wrong one would be refused anyway and hide whether reuse is),
    // from a fresh client and from the invitee's own session: the token is spent.
    expectProblem(await new Client(a).call('POST', '/v1/invitations/accept', { body: { token: inv.json.token, password: 'billing person pw' } }), 404, 'invitation_invalid');
    expectProblem(await invitee.call('POST', '/v1/invitations/accept', { body: { token: inv.json.token } }), 404, 'invitation_invalid');
    // Once removed, the same token with the right password does not bring the person back.
    const membership = await a.db.prisma.membership.findFirstOrThrow({ where: { orgId, user: { email: 'new.person@acme.test' } } });
    expect((await owner.call('DELETE', `/v1/orgs/${orgId}/members/${membership.id}`)).status).toBe(204);
    const comeback = new Client(a);
    expectProblem(await comeback.call('POST', '/v1/invitations/accept', { body: { token: inv.json.token, password: 'billing person pw' } }), 404, 'invitation_invalid');
    expect(comeback.cookie).toBeNull();
    expect(await a.db.prisma.membership.count({ where: { orgId, user: { email: 'new.person@acme.test' } } })).toBe(0);
    const audit = await a.db.prisma.auditLog.findMany({ where: { orgId, targetId: inv.json.id }, orderBy: { id: 'asc' } });
    expect(audit.map((e) => e.action)).toEqual(['invitation.create', 'invitation.accept']);
    expect(JSON.stringify(audit)).not.toContain(inv.json.token);
  });

  it('expired, revoked and unknown tokens give the same 404', async () => {
    const expired = await owner.call('POST', `/v1/orgs/${orgId}/invitations`, { body: { email: 'late@acme.test', role: 'viewer', expires_in_seconds: 60 } });
    await a.db.prisma.invitation.update({ where: { id: expired.json.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const revoked = await owner.call('POST', `/v1/orgs/${orgId}/invitations`, { body: { email: 'revoked@acme.test', role: 'viewer' } });
    expect((await owner.call('DELETE', `/v1/orgs/${orgId}/invitations/${revoked.json.id}`)).status).toBe(204);
    expectProblem(await owner.call('DELETE', `/v1/orgs/${orgId}/invitations/${revoked.json.id}`), 404, 'not_found');
    expectProblem(await owner.call('POST', `/v1/orgs/${orgId}/invitations`, { body: { email: 'y@acme.test', role: 'viewer', expires_in_seconds: 31 * 24 * 3600 } }), 422, 'validation_failed');

    const strip = (j: any) => ({ ...j, requestId: undefined });
    const answers = [];
    for (const token of [expired.json.token, revoked.json.token, 'inv_' + 'A'.repeat(43), 'garbage']) {
      const r = await new Client(a).call('POST', '/v1/invitations/accept', { body: { token, password: 'a long password' } });
      expectProblem(r, 404, 'invitation_invalid');
      answers.push(strip(r.json));
    }
    for (const x of answers) expect(x).toEqual(answers[0]);
    expect(await auditActions()).toContain('invitation.revoke');
  });

  it('with a session, the logged-in user joins; the invitation email must be theirs', async () => {
    const someone = new Client(a);
    await someone.signup('someone@else.test', 'someone password');
    const forOther = await owner.call('POST', `/v1/orgs/${orgId}/invitations`, { body: { email: 'not-someone@else.test', role: 'viewer' } });
    expectProblem(await someone.call('POST', '/v1/invitations/accept', { body: { token: forOther.json.token } }), 404, 'invitation_invalid');
    const forThem = await owner.call('POST', `/v1/orgs/${orgId}/invitations`, { body: { email: 'someone@else.test', role: 'developer' } });
    expectProblem(await someone.call('POST', '/v1/invitations/accept', { body: { token: forThem.json.token }, csrf: false }), 403, 'csrf_failed');
    const ok = await someone.call('POST', '/v1/invitations/accept', { body: { token: forThem.json.token } });
    expect(ok.json).toMatchObject({ org_id: orgId });
    const me = await someone.call('GET', '/v1/me');
    expect(me.json.memberships.map((m: any) => [m.org_id === orgId, m.role])).toContainEqual([true, 'developer']);
  });

  it('a live API key with the admin scope manages invitations; audit names the key', async () => {
    const key = await createKey(a, orgId, ['admin'], 'live');
    const inv = await new Client(a).call('POST', `/v1/orgs/${orgId}/invitations`, { key, body: { email: 'bykey@acme.test', role: 'viewer' } });
    expect(inv.status).toBe(201);
    const entry = await a.db.prisma.auditLog.findFirstOrThrow({ where: { orgId, action: 'invitation.create', targetId: inv.json.id } });
    expect(entry.actorType).toBe('api_key');
    expectProblem(await new Client(a).call('POST', `/v1/orgs/${orgId}/invitations`, { key, body: { email: 'o@acme.test', role: 'owner' } }), 403, 'forbidden');
  });
});

describe('route declarations', () => {
  it('an application with an OrgGuard route lacking @RequirePermission refuses to start', async () => {
    @UseGuards(OrgGuard)
    @Controller('v1/orgs/:org/oops')
    class OopsController {
      @Get()
      open() {
        return 'open';
      }
    }
    @Module({ imports: [ConfigModule.forRoot(a.env)], controllers: [OopsController] })
    class Oops {}
    // The real tenancy stack, plus the faulty controller.
    const { TenancyModule } = await import('#platform/tenancy');
    const { IdentityModule } = await import('#platform/identity');
    const { ApiKeysModule } = await import('#platform/api-keys');
    const { DbModule } = await import('#infra/db');
    const { RedisModule } = await import('#infra/redis');
    const ref = await Test.createTestingModule({ imports: [Oops, DbModule, RedisModule, ApiKeysModule, IdentityModule, TenancyModule] }).compile();
    const app = ref.createNestApplication(new FastifyAdapter(), { logger: false });
    await expect(app.init()).rejects.toThrow(/OopsController\.open/);
    await app.close();
  });

  it('an application with a management write route that test-mode keys could use (a read permission) refuses to start', async () => {
    // issue 9 item 1: a future billing or webhook write declared with a read permission would be open to sk_test_ keys.
    @UseGuards(OrgGuard)
    @Controller('v1/orgs/:org/billing')
    class SloppyBillingController {
      @Post('plan')
      @RequirePermission('billing:read')
      changePlan() {
        return 'changed';
      }
    }
    @Module({ imports: [ConfigModule.forRoot(a.env)], controllers: [SloppyBillingController] })
    class Sloppy {}
    const { TenancyModule } = await import('#platform/tenancy');
    const { IdentityModule } = await import('#platform/identity');
    const { ApiKeysModule } = await import('#platform/api-keys');
    const { DbModule } = await import('#infra/db');
    const { RedisModule } = await import('#infra/redis');
    const ref = await Test.createTestingModule({ imports: [Sloppy, DbModule, RedisModule, ApiKeysModule, IdentityModule, TenancyModule] }).compile();
    const app = ref.createNestApplication(new FastifyAdapter(), { logger: false });
    await expect(app.init()).rejects.toThrow(/SloppyBillingController\.changePlan \(billing:read\)/);
    await app.close();
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uuidv7 } from '#infra/db';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/db.js';
import { writeAudit } from './audit.js';
import { AuditLogRepository } from './audit-log.repository.js';
import { parseAuditQuery } from './audit-query.js';

describe('parseAuditQuery', () => {
  it('parses filters and pages', () => {
    const id = '0193d7a2-0000-7000-8000-00000000000a';
    expect(parseAuditQuery({ action: 'api_key.create', actor_id: id.toUpperCase(), target_id: 'x', since: '2026-01-01', until: '2026-01-02T10:00:00.5+02:00', limit: '5', starting_after: id })).toEqual({
      filter: { action: 'api_key.create', actorId: id, targetId: 'x', since: new Date('2026-01-01'), until: new Date('2026-01-02T08:00:00.5Z') },
      page: { limit: 5, after: id },
    });
    expect(parseAuditQuery({})).toEqual({ filter: {}, page: { limit: 20 } });
  });

  it('answers bad filters and bad paging with one 422 naming each', () => {
    let caught: any;
    try {
      parseAuditQuery({ action: 'DROP TABLE', actor_id: '42', since: 'yesterday', until: '2026-13-45', limit: '0' });
    } catch (e) {
      caught = e;
    }
    expect(caught).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(caught.extensions.errors.map((e: { path: string }) => e.path)).toEqual(['/limit', '/action', '/actor_id', '/since', '/until']);
    expect(() => parseAuditQuery({ since: '2026-02-01', until: '2026-01-01' })).toThrow('failed validation');
    expect(() => parseAuditQuery({ limit: '0' })).toThrow('limit');
    expect(() => parseAuditQuery({ starting_after: 'x' })).toThrow('starting_after');
  });
});

describe('AuditLogRepository', () => {
  let db: TestDatabase;
  let repo: AuditLogRepository;
  let orgA: string;
  let orgB: string;
  const alice = uuidv7();
  const key = uuidv7();

  beforeAll(async () => {
    db = await createTestDatabase('audit_log');
    repo = new AuditLogRepository(db.prisma);
    const plan = await db.prisma.plan.create({ data: { id: uuidv7(), key: 'free', name: 'Free', rateLimitPerMinute: 60 } });
    orgA = uuidv7();
    orgB = uuidv7();
    await db.prisma.organization.createMany({
      data: [
        { id: orgA, slug: 'a', name: 'A', planId: plan.id },
        { id: orgB, slug: 'b', name: 'B', planId: plan.id },
      ],
    });
    const base = { targetType: 'api_key', ip: '198.51.100.1' };
    await writeAudit(db.prisma, { ...base, orgId: orgA, actorType: 'user', actorId: alice, action: 'api_key.create', targetId: 'k1', changes: { after: { name: 'one' } } });
    await writeAudit(db.prisma, { ...base, orgId: orgA, actorType: 'api_key', actorId: key, action: 'api_key.revoke', targetId: 'k1' });
    await writeAudit(db.prisma, { ...base, orgId: orgA, actorType: 'user', actorId: alice, action: 'member.update', targetType: 'membership', targetId: 'm1' });
    await writeAudit(db.prisma, { ...base, orgId: orgB, actorType: 'user', actorId: alice, action: 'api_key.create', targetId: 'kb' });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('lists one organization’s entries newest first, as views', async () => {
    const page = await repo.list({ orgId: orgA }, {}, { limit: 10 });
    expect(page.data.map((e) => e.action)).toEqual(['member.update', 'api_key.revoke', 'api_key.create']);
    expect(page.has_more).toBe(false);
    expect(page.data[2]).toMatchObject({
      object: 'audit_entry',
      actor: { type: 'user', id: alice },
      target: { type: 'api_key', id: 'k1' },
      ip: '198.51.100.1',
      changes: { after: { name: 'one' } },
      created_at: expect.stringMatching(/Z$/),
    });
    expect(page.data[1]!.changes).toBeNull();
  });

  it('filters by action (exact or object), actor, target and time', async () => {
    const ids = async (filter: Parameters<AuditLogRepository['list']>[1]) => (await repo.list({ orgId: orgA }, filter, { limit: 10 })).data.map((e) => e.action);
    expect(await ids({ action: 'api_key.create' })).toEqual(['api_key.create']);
    expect(await ids({ action: 'api_key' })).toEqual(['api_key.revoke', 'api_key.create']);
    expect(await ids({ actorId: key })).toEqual(['api_key.revoke']);
    expect(await ids({ targetId: 'm1' })).toEqual(['member.update']);
    expect(await ids({ since: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(await ids({ until: new Date(Date.now() + 60_000), since: new Date(Date.now() - 60_000) })).toHaveLength(3);
  });

  it('pages with a cursor', async () => {
    const first = await repo.list({ orgId: orgA }, {}, { limit: 2 });
    expect(first.has_more).toBe(true);
    const second = await repo.list({ orgId: orgA }, {}, { limit: 2, after: first.next_cursor! });
    expect(second).toMatchObject({ has_more: false, next_cursor: null });
    expect([...first.data, ...second.data].map((e) => e.action)).toEqual(['member.update', 'api_key.revoke', 'api_key.create']);
  });
});

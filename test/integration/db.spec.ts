import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { digestApiKey } from '#platform/api-keys';
import { verifyPassword } from '#platform/identity';
import { ConfigModule, parseEnv } from '#infra/config';
import { applyMigrations, createPrismaClient, DbModule, migrationStatus, pingDatabase, PrismaService, readMigrationList, repoRoot, uuidv7 } from '#infra/db';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const PEPPER = 'integration-test-pepper-0123456789abcdef';

describe('migrations', () => {
  let a: TestDatabase;
  let b: TestDatabase;

  beforeAll(async () => {
    [a, b] = await Promise.all([createTestDatabase('db_a'), createTestDatabase('db_b')]);
  });
  afterAll(async () => {
    await Promise.all([a?.drop(), b?.drop()]);
  });

  it('applied every migration of prisma/migrations into the test schema, and records them', async () => {
    const list = await readMigrationList(join(repoRoot(), 'prisma', 'migrations'));
    expect(list.migrationDirectories.length).toBeGreaterThan(0);
    const rows = await a.prisma.$queryRawUnsafe<{ migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }[]>(
      `SELECT migration_name, finished_at, rolled_back_at FROM "${a.schema}"."_prisma_migrations" ORDER BY migration_name`,
    );
    expect(rows.map((r) => r.migration_name)).toEqual(list.migrationDirectories.map((d) => d.path));
    for (const r of rows) {
      expect(r.finished_at).not.toBeNull();
      expect(r.rolled_back_at).toBeNull();
    }
    const tables = await a.prisma.$queryRawUnsafe<{ table_name: string }[]>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
      a.schema,
    );
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['Plan', 'Organization', 'ApiKey', 'UsageEvent', '_prisma_migrations']));
  });

  it('applies nothing on a second run and reports the schema up to date', async () => {
    const again = await applyMigrations({ url: a.url, schema: a.schema });
    expect(again.applied).toEqual([]);
    const status = await migrationStatus({ url: a.url, schema: a.schema });
    expect(status).toMatchObject({ schema: a.schema, hasMigrationsTable: true, pending: [], failed: [], edited: [], upToDate: true });
  });

  it('reports pending migrations of a schema that has none applied', async () => {
    const schema = `t_status_${uuidv7().slice(-8)}`;
    const status = await migrationStatus({ url: a.url, schema });
    expect(status.hasMigrationsTable).toBe(false);
    expect(status.pending.length).toBeGreaterThan(0);
    expect(status.upToDate).toBe(false);
    const ns = await a.prisma.$queryRawUnsafe<unknown[]>(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, schema);
    expect(ns).toHaveLength(0); // status is read-only
  });

  it('keeps two test schemas apart', async () => {
    await a.prisma.plan.create({ data: { id: uuidv7(), key: 'only-in-a', name: 'A', rateLimitPerMinute: 1 } });
    expect(await a.prisma.plan.count({ where: { key: 'only-in-a' } })).toBe(1);
    expect(await b.prisma.plan.count({ where: { key: 'only-in-a' } })).toBe(0);
    // raw SQL follows the same schema (search_path), not public
    const raw = await b.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM "Plan" WHERE key = 'only-in-a'`);
    expect(Number(raw[0]!.n)).toBe(0);
  });

  it('answers a readiness ping', async () => {
    const ping = await pingDatabase(a.prisma, 2_000);
    expect(ping.ok).toBe(true);
  });

  it('gives Nest apps a PrismaService on the configured schema', async () => {
    const env = parseEnv({ DATABASE_URL: a.url, DATABASE_SCHEMA: a.schema, DATABASE_POOL_SIZE: '2', NODE_ENV: 'test' });
    const moduleRef = await Test.createTestingModule({ imports: [ConfigModule.forRoot(env), DbModule] }).compile();
    const app = await moduleRef.init(); // an application context: lifecycle hooks, no HTTP
    try {
      const prisma = app.get(PrismaService);
      expect(prisma.schema).toBe(a.schema);
      expect(await prisma.ping()).toMatchObject({ ok: true });
      expect(await prisma.plan.count({ where: { key: 'only-in-a' } })).toBe(await a.prisma.plan.count({ where: { key: 'only-in-a' } }));
    } finally {
      await app.close();
    }
  });

  it('reports an unreachable database as not ready, within the timeout', async () => {
    const dead = createPrismaClient({ url: 'postgresql://postgres@127.0.0.1:1/nothing', connectTimeoutMs: 500 });
    try {
      const started = Date.now();
      const ping = await pingDatabase(dead, 1_000);
      expect(ping.ok).toBe(false);
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      await dead.$disconnect();
    }
  });

  it('applies a migration with ";" inside a string literal as one script, atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratum-migrations-'));
    try {
      await cp(join(repoRoot(), 'prisma', 'migrations'), dir, { recursive: true });
      await mkdir(join(dir, '99990101000000_comment'));
      await writeFile(join(dir, '99990101000000_comment', 'migration.sql'), `COMMENT ON TABLE "Plan" IS 'price list; one row per plan';\n`);
      const res = await applyMigrations({ url: b.url, schema: b.schema, migrationsDir: dir });
      expect(res.applied).toEqual(['99990101000000_comment']);
      const [row] = await b.prisma.$queryRawUnsafe<{ c: string }[]>(`SELECT obj_description('"Plan"'::regclass) AS c`);
      expect(row!.c).toBe('price list; one row per plan');

      // a failing migration leaves nothing half-done behind and is reported as failed
      await mkdir(join(dir, '99990102000000_broken'));
      await writeFile(join(dir, '99990102000000_broken', 'migration.sql'), `CREATE TABLE "Half" (id int);\nSELECT * FROM "NoSuchTable";\n`);
      await expect(applyMigrations({ url: b.url, schema: b.schema, migrationsDir: dir })).rejects.toThrow(/NoSuchTable/);
      const half = await b.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'Half'`, b.schema);
      expect(Number(half[0]!.n)).toBe(0);
      const status = await migrationStatus({ url: b.url, schema: b.schema, migrationsDir: dir });
      expect(status.failed).toEqual(['99990102000000_broken']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('seedDemo', () => {
  let db: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase('seed');
    dir = await mkdtemp(join(tmpdir(), 'stratum-seed-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is idempotent and reuses the keys kept in the credentials file', async () => {
    const credentialsFile = join(dir, '.stratum', 'demo-keys.json');
    const first = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile });
    expect(first.created).toBe(true);
    expect(first.liveKey.secret).toMatch(/^sk_live_/);
    expect(first.testKey.secret).toMatch(/^sk_test_/);
    expect((await stat(credentialsFile)).mode & 0o777).toBe(0o600);

    const second = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile });
    expect(second.created).toBe(false);
    expect(second.orgId).toBe(first.orgId);
    expect(second.liveKey.secret).toBe(first.liveKey.secret);

    expect(await db.prisma.organization.count()).toBe(1);
    expect(await db.prisma.plan.count()).toBe(3); // free, pro, enterprise
    expect(await db.prisma.apiKey.count()).toBe(2);
    expect(await db.prisma.membership.count({ where: { orgId: first.orgId, role: 'owner' } })).toBe(1);

    const live = await db.prisma.apiKey.findUnique({ where: { digest: digestApiKey(first.liveKey.secret!, PEPPER) } });
    expect(live).toMatchObject({ orgId: first.orgId, mode: 'live', revokedAt: null, name: 'Demo live key', scopes: ['predict', 'usage:read'] });
    expect(live!.id[14]).toBe('7');

    const org = await db.prisma.organization.findUniqueOrThrow({ where: { slug: 'demo' }, include: { plan: true } });
    expect(org.plan).toMatchObject({ key: 'pro', rateLimitPerMinute: 600, rateLimitBurst: 300, maxConcurrentPredictions: 100, monthlyQuotaUnits: 100_000, quotaOverage: 'allow', queuePriority: 1 });
    expect(org.plan.unitPriceMicros).toBeGreaterThan(0);
    const free = await db.prisma.plan.findUniqueOrThrow({ where: { key: 'free' } });
    expect(free).toMatchObject({ rateLimitPerMinute: 60, rateLimitBurst: 60, maxConcurrentPredictions: 10, monthlyQuotaUnits: 1000, queuePriority: 10 });
  });

  it('makes fresh keys, revoking nothing, when the stored keys no longer verify', async () => {
    const credentialsFile = join(dir, '.stratum', 'demo-keys.json');
    const before = JSON.parse(await readFile(credentialsFile, 'utf8')) as { keys: { live: { secret: string } } };
    await db.prisma.apiKey.update({ where: { digest: digestApiKey(before.keys.live.secret, PEPPER) }, data: { revokedAt: new Date() } });

    const third = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile });
    expect(third.created).toBe(true);
    expect(third.liveKey.created).toBe(true);
    expect(third.liveKey.secret).not.toBe(before.keys.live.secret);
    expect(third.testKey.created).toBe(false);
    expect(await db.prisma.apiKey.count({ where: { revokedAt: null } })).toBe(2);
    expect(await db.prisma.apiKey.count()).toBe(3);
    const after = JSON.parse(await readFile(credentialsFile, 'utf8')) as { keys: { live: { secret: string } } };
    expect(after.keys.live.secret).toBe(third.liveKey.secret);
  });

  it('without a credentials file keeps the existing active keys (secrets unknown)', async () => {
    const run = await seedDemo({ prisma: db.prisma, pepper: PEPPER });
    expect(run.created).toBe(false);
    expect(run.liveKey.secret).toBeNull();
    expect(await db.prisma.apiKey.count()).toBe(3);
    expect((await readdir(dir)).sort()).toEqual(['.stratum']);
  });

  // The README's quick start (issue 10, item 10): an owner log-in and a live admin + predict key.
  it('with admin access: a generated owner password and a live admin + predict key, both kept on re-seed', async () => {
    const credentialsFile = join(dir, 'admin', 'demo-keys.json');
    const first = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile, withAdminAccess: true });
    expect(first.adminKey?.secret).toMatch(/^sk_live_/);
    expect(first.owner).toMatchObject({ email: 'owner@demo.stratum.local', created: true });
    const admin = await db.prisma.apiKey.findUnique({ where: { digest: digestApiKey(first.adminKey!.secret!, PEPPER) } });
    expect(admin).toMatchObject({ mode: 'live', name: 'Demo admin key', scopes: ['admin', 'predict'], revokedAt: null });
    const user = await db.prisma.user.findUniqueOrThrow({ where: { email: 'owner@demo.stratum.local' } });
    expect(await verifyPassword(user.passwordHash, first.owner!.password)).toBe(true);
    const file = JSON.parse(await readFile(credentialsFile, 'utf8')) as { org: string; keys: { admin: { secret: string } }; owner: { password: string } };
    expect(file).toMatchObject({ org: 'demo', keys: { admin: { secret: first.adminKey!.secret } }, owner: { password: first.owner!.password } });

    const second = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile, withAdminAccess: true });
    expect(second.adminKey?.secret).toBe(first.adminKey!.secret);
    expect(second.owner).toEqual({ ...first.owner, created: false });

    // Another installation's file (a password that does not verify here): a new one, never a fixed one.
    await writeFile(credentialsFile, JSON.stringify({ ...file, owner: { email: 'owner@demo.stratum.local', password: 'not-the-password' } }));
    const third = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile, withAdminAccess: true });
    expect(third.owner?.created).toBe(true);
    expect(third.owner?.password).not.toBe(first.owner!.password);
    expect(third.owner?.password).not.toBe('not-the-password');
  });
});

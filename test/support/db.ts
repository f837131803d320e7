// Per-file database isolation for integration tests: each call makes its own Postgres schema
// in the configured database (DATABASE_URL), migrates it and hands back a client bound to it.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { readProcessEnv } from '#infra/config';
import { applyMigrations, createPrismaClient, resolveTarget, type PrismaClient } from '#infra/db';

export interface TestDatabase {
  /** DATABASE_URL of the database holding the schema. */
  url: string;
  /** The test's own Postgres schema. */
  schema: string;
  prisma: PrismaClient;
  /** Drops the schema (cascade) and disconnects. */
  drop(): Promise<void>;
}

/** Creates the database named in `url` when it does not exist (first run on a fresh server). */
async function ensureDatabase(url: string): Promise<void> {
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err; // 3D000: invalid_catalog_name
  } finally {
    await probe.end().catch(() => undefined);
  }
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  target.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: target.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } catch (err) {
    // 42P04 duplicate_database / 23505: another test file created it first
    if (!['42P04', '23505'].includes((err as { code?: string }).code ?? '')) throw err;
  } finally {
    await admin.end();
  }
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const url = resolveTarget({ url: readProcessEnv().DATABASE_URL }).connectionString;
  const clean = label.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 40);
  const schema = `t_${clean}_${randomBytes(5).toString('hex')}`;
  await ensureDatabase(url);
  await applyMigrations({ url, schema });
  const prisma = createPrismaClient({ url, schema, poolSize: 4 });
  let dropped = false;
  return {
    url,
    schema,
    prisma,
    async drop() {
      if (dropped) return;
      dropped = true;
      await prisma.$disconnect();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

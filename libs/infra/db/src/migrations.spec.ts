import { describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertSchemaName, resolveTarget } from './client.js';
import { authorMigration, MIGRATION_NAME, repoRoot } from './migrations.js';

describe('resolveTarget', () => {
  it('takes the explicit schema, else the URL one, else public, and strips ?schema=', () => {
    expect(resolveTarget({ url: 'postgresql://u@h:5432/db?schema=tenant&sslmode=disable', schema: 'other' })).toEqual({
      connectionString: 'postgresql://u@h:5432/db?sslmode=disable',
      schema: 'other',
    });
    expect(resolveTarget({ url: 'postgresql://u@h/db?schema=tenant' }).schema).toBe('tenant');
    expect(resolveTarget({ url: 'postgresql://u@h/db' }).schema).toBe('public');
  });

  it('refuses schema names that are not plain identifiers', () => {
    expect(() => assertSchemaName('a"; DROP SCHEMA public; --')).toThrow(/Invalid Postgres schema name/);
    expect(() => assertSchemaName('Mixed')).toThrow();
    expect(assertSchemaName('t_abc_123')).toBe('t_abc_123');
  });
});

describe('authorMigration', () => {
  it('validates the name', async () => {
    expect(MIGRATION_NAME.test('add_usage_index')).toBe(true);
    await expect(authorMigration('Add Index')).rejects.toThrow(/Invalid migration name/);
  });

  it('finds no changes between prisma/schema.prisma and the committed migrations', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratum-author-'));
    try {
      await cp(join(repoRoot(), 'prisma', 'migrations'), dir, { recursive: true });
      const before = await readdir(dir);
      const res = await authorMigration('nothing', { migrationsDir: dir });
      expect(res.directory).toBeNull();
      expect(await readdir(dir)).toEqual(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes the whole schema as a first migration, schema-agnostic, with the lock file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratum-author-'));
    try {
      const res = await authorMigration('init', { migrationsDir: dir, now: new Date(Date.UTC(2030, 0, 2, 3, 4, 5)) });
      expect(res.name).toBe('20300102030405_init');
      const sql = await readFile(join(dir, '20300102030405_init', 'migration.sql'), 'utf8');
      expect(sql).toContain('CREATE TABLE "ApiKey"');
      expect(sql).not.toMatch(/public/i);
      expect(await readFile(join(dir, 'migration_lock.toml'), 'utf8')).toContain('provider = "postgresql"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

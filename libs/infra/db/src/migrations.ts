// Stratum's own migration runner: Prisma's schema engine (Wasm) on a driver adapter, so
// migrations apply offline and into any Postgres schema. The folder layout and the
// `_prisma_migrations` table are Prisma's standard ones: `prisma migrate deploy` stays usable.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { poolConfigFor, quoteIdent, type DatabaseTarget } from './client.js';
import { NO_FILTER, toDriverAdapterError, wholeScriptFactory, withSchemaEngine, type MigrationList } from './schema-engine.js';

export interface MigrationPaths {
  /** The folder holding `<timestamp>_<name>/migration.sql` (default: `<repo>/prisma/migrations`). */
  migrationsDir?: string;
  /** The Prisma schema file (default: `<repo>/prisma/schema.prisma`). */
  schemaPath?: string;
}

export interface ApplyMigrationsOptions extends DatabaseTarget, MigrationPaths {
  log?: (line: string) => void;
}

export interface ApplyMigrationsResult {
  schema: string;
  /** Names of the migrations applied by this call, oldest first; empty when up to date. */
  applied: string[];
  durationMs: number;
}

export interface MigrationStatus {
  schema: string;
  hasMigrationsTable: boolean;
  /** Migrations in the folder not applied to the database. */
  pending: string[];
  /** Applied migrations whose file changed since. */
  edited: string[];
  failed: string[];
  /** Applied migrations missing from the folder. */
  unknown: string[];
  upToDate: boolean;
}

let cachedRoot: string | undefined;

/**
 * The repository root: the nearest ancestor of this file holding prisma/schema.prisma, so it
 * works from libs/infra/db/src (tests, tsc) and from dist/libs/infra/db/src (built code) alike.
 */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'prisma', 'schema.prisma'))) return (cachedRoot = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`prisma/schema.prisma not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function resolvePaths(p: MigrationPaths): { migrationsDir: string; schemaPath: string } {
  return {
    migrationsDir: p.migrationsDir ?? join(repoRoot(), 'prisma', 'migrations'),
    schemaPath: p.schemaPath ?? join(repoRoot(), 'prisma', 'schema.prisma'),
  };
}

/** Reads the migrations folder the way the Prisma CLI does (directory names, sorted). */
export async function readMigrationList(migrationsDir: string): Promise<MigrationList> {
  let entries: string[] = [];
  try {
    entries = (await readdir(migrationsDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  entries.sort();
  const migrationDirectories: MigrationList['migrationDirectories'] = [];
  for (const name of entries) {
    const file = join(migrationsDir, name, 'migration.sql');
    if (!existsSync(file)) continue;
    migrationDirectories.push({ path: name, migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: await readFile(file, 'utf8') } } });
  }
  const lockPath = join(migrationsDir, 'migration_lock.toml');
  return {
    baseDir: migrationsDir,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lockPath) ? await readFile(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/** A schema-engine adapter factory on its own small pool, sending whole scripts at once. */
function pgFactory(pool: pg.Pool, schema: string) {
  return wholeScriptFactory(new PrismaPg(pool, { schema }), async (_adapter, script) => {
    try {
      await pool.query(script);
    } catch (err) {
      throw toDriverAdapterError(err);
    }
  });
}

/** Arbitrary but fixed: our runners serialise on (this, hash of the schema name). */
const LOCK_CLASS = 0x5354;

/**
 * Applies every pending migration of prisma/migrations into `schema` (created if missing),
 * recording them in that schema's `_prisma_migrations`. Concurrent runners on the same schema
 * wait for each other (advisory lock); the second one finds nothing to apply.
 */
export async function applyMigrations(options: ApplyMigrationsOptions): Promise<ApplyMigrationsResult> {
  const started = performance.now();
  const { migrationsDir, schemaPath } = resolvePaths(options);
  const { schema, ...config } = poolConfigFor(options, { max: 2 });
  const [list, datamodel] = await Promise.all([readMigrationList(migrationsDir), readFile(schemaPath, 'utf8')]);
  const lock = new pg.Client({ ...config, options: undefined });
  await lock.connect();
  const pool = new pg.Pool(config);
  pool.on('error', () => undefined); // an idle connection dropped: the next query reconnects
  try {
    await lock.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS, schema]);
    try {
      await lock.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    } catch (err) {
      // two runners racing on a new schema: the loser sees a unique violation, which is fine
      if ((err as { code?: string }).code !== '23505') throw err;
    }
    const out = await withSchemaEngine(
      pgFactory(pool, schema),
      { path: schemaPath, content: datamodel },
      (engine) => engine.applyMigrations({ migrationsList: list, filters: NO_FILTER }),
      options.log && ((line) => options.log?.(`[schema-engine] ${line}`)),
    );
    const result = { schema, applied: out.appliedMigrationNames, durationMs: Math.round(performance.now() - started) };
    options.log?.(result.applied.length ? `applied ${result.applied.length} migration(s) to schema "${schema}": ${result.applied.join(', ')}` : `schema "${schema}" is up to date`);
    return result;
  } finally {
    await pool.end();
    await lock.end(); // ends the session, releasing the advisory lock
  }
}

/** What `prisma migrate status` says, for `schema`. Read-only; creates nothing. */
export async function migrationStatus(options: DatabaseTarget & MigrationPaths & { log?: (line: string) => void }): Promise<MigrationStatus> {
  const { migrationsDir, schemaPath } = resolvePaths(options);
  const { schema, ...config } = poolConfigFor(options, { max: 2 });
  const [list, datamodel] = await Promise.all([readMigrationList(migrationsDir), readFile(schemaPath, 'utf8')]);
  const pool = new pg.Pool(config);
  pool.on('error', () => undefined);
  try {
    // The engine creates a missing schema on connect: answer for that case without it.
    const exists = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) {
      const pending = list.migrationDirectories.map((d) => d.path);
      return { schema, hasMigrationsTable: false, pending, edited: [], failed: [], unknown: [], upToDate: pending.length === 0 };
    }
    const d = await withSchemaEngine(
      pgFactory(pool, schema),
      { path: schemaPath, content: datamodel },
      (engine) => engine.diagnoseMigrationHistory({ migrationsList: list, optInToShadowDatabase: false, filters: NO_FILTER }),
      options.log,
    );
    const h = d.history;
    const pending = h && h.diagnostic !== 'migrationsDirectoryIsBehind' ? h.unappliedMigrationNames : [];
    const unknown = h && h.diagnostic !== 'databaseIsBehind' ? h.unpersistedMigrationNames : [];
    return {
      schema,
      hasMigrationsTable: d.hasMigrationsTable,
      pending,
      edited: d.editedMigrationNames,
      failed: d.failedMigrationNames,
      unknown,
      upToDate: h === null && d.failedMigrationNames.length === 0 && d.editedMigrationNames.length === 0,
    };
  } finally {
    await pool.end();
  }
}

export const MIGRATION_NAME = /^[a-z0-9][a-z0-9_]{0,79}$/;

export interface AuthorMigrationResult {
  /** null when the schema already matches the migrations ("no changes"). */
  directory: string | null;
  name: string | null;
  sql: string;
}

function timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** True when a diff script contains no statement (only comments / blank lines). */
function isEmptyScript(sql: string): boolean {
  return sql
    .split('\n')
    .map((l) => l.trim())
    .every((l) => l === '' || l.startsWith('--'));
}

/**
 * Writes the next migration: replays the existing migrations on an in-memory PGlite, diffs
 * that database against prisma/schema.prisma and saves the SQL as
 * `<migrationsDir>/<YYYYMMDDHHMMSS>_<name>/migration.sql`. Writes nothing when they match.
 * A development tool: it loads PGlite (a devDependency) only when called.
 */
export async function authorMigration(
  name: string,
  options: MigrationPaths & { now?: Date; log?: (line: string) => void } = {},
): Promise<AuthorMigrationResult> {
  if (!MIGRATION_NAME.test(name)) throw new Error(`Invalid migration name ${JSON.stringify(name)}: use lower-case letters, digits and _ (e.g. add_usage_index)`);
  const log = options.log ?? (() => undefined);
  const { migrationsDir, schemaPath } = resolvePaths(options);
  const [list, datamodel] = await Promise.all([readMigrationList(migrationsDir), readFile(schemaPath, 'utf8')]);
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([import('@electric-sql/pglite'), import('pglite-prisma-adapter')]);
  const db = new PGlite();
  try {
    await db.waitReady;
    const factory = wholeScriptFactory(new PrismaPGlite(db), async (_adapter, script) => {
      try {
        await db.exec(script);
      } catch (err) {
        throw toDriverAdapterError(err);
      }
    });
    const files = [{ path: schemaPath, content: datamodel }];
    const sql = await withSchemaEngine(factory, files[0]!, async (engine) => {
      const applied = await engine.applyMigrations({ migrationsList: list, filters: NO_FILTER });
      if (applied.appliedMigrationNames.length) log(`replayed ${applied.appliedMigrationNames.length} existing migration(s)`);
      const diff = await engine.diff({
        from: { tag: 'schemaDatasource', files, configDir: dirname(schemaPath) },
        to: { tag: 'schemaDatamodel', files },
        script: true,
        exitCode: null,
        filters: NO_FILTER,
      });
      return diff.stdout ?? '';
    });
    if (isEmptyScript(sql)) {
      log('no changes: prisma/schema.prisma matches the migrations');
      return { directory: null, name: null, sql: '' };
    }
    const dirName = `${timestamp(options.now ?? new Date())}_${name}`;
    const directory = join(migrationsDir, dirName);
    if (existsSync(directory)) throw new Error(`${directory} already exists`);
    await mkdir(directory, { recursive: true });
    await writeFile(join(directory, 'migration.sql'), sql.endsWith('\n') ? sql : sql + '\n');
    const lockPath = join(migrationsDir, 'migration_lock.toml');
    if (!existsSync(lockPath)) {
      await writeFile(lockPath, '# Prisma migrations lock file: keep it in version control.\nprovider = "postgresql"\n');
    }
    log(`wrote ${join(directory, 'migration.sql')}`);
    return { directory, name: dirName, sql };
  } finally {
    await db.close();
  }
}

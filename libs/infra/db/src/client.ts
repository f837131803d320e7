import { PrismaPg } from '@prisma/adapter-pg';
import type { PoolConfig } from 'pg';
import { PrismaClient } from './generated/client.js';

/** Where and how to connect. `schema` is the Postgres schema (namespace) holding Stratum's tables. */
export interface DatabaseTarget {
  url: string;
  /** Postgres schema; defaults to the URL's `?schema=` or "public". */
  schema?: string;
}

export interface CreatePrismaClientOptions extends DatabaseTarget {
  /** Connections in the pool (pg's `max`). */
  poolSize?: number;
  /** Milliseconds to wait for a new connection before failing (default 5000). */
  connectTimeoutMs?: number;
  /** Called for errors of idle pooled connections (the pool replaces them). Default: stderr. */
  onPoolError?: (err: Error) => void;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws unless `name` is a plain SQL identifier (it is interpolated into DDL and search_path). */
export function assertSchemaName(name: string): string {
  if (!SCHEMA_NAME.test(name)) throw new Error(`Invalid Postgres schema name ${JSON.stringify(name)}: lower-case letters, digits and _ only, at most 63 characters`);
  return name;
}

/** Double-quotes an identifier that passed assertSchemaName. */
export function quoteIdent(name: string): string {
  return `"${assertSchemaName(name)}"`;
}

/**
 * Splits Prisma's `?schema=` convention off a Postgres URL (pg would pass it to the server as
 * an unknown parameter) and settles which schema to use: the explicit one, the URL's, or public.
 */
export function resolveTarget(target: DatabaseTarget): { connectionString: string; schema: string } {
  const u = new URL(target.url);
  const fromUrl = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  const schema = assertSchemaName(target.schema ?? fromUrl ?? 'public');
  return { connectionString: u.toString(), schema };
}

/**
 * pg pool settings for a target: every connection's search_path is the schema, so
 * unqualified SQL (migrations, raw queries) lands there too, not only Prisma's
 * schema-qualified queries.
 */
export function poolConfigFor(target: DatabaseTarget, extra: Omit<PoolConfig, 'connectionString'> = {}): PoolConfig & { schema: string } {
  const { connectionString, schema } = resolveTarget(target);
  return {
    connectionString,
    options: `-c search_path=${schema}`,
    application_name: 'stratum',
    connectionTimeoutMillis: 5_000,
    ...extra,
    schema,
  };
}

const defaultPoolError = (err: Error): void => {
  console.error(`[db] idle connection error: ${err.message}`);
};

/** The driver adapter (a pg pool it owns) for a target. */
export function prismaAdapter(options: CreatePrismaClientOptions): PrismaPg {
  const { schema, ...pool } = poolConfigFor(options, {
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
  });
  return new PrismaPg(pool, { schema, onPoolError: options.onPoolError ?? defaultPoolError });
}

/** A PrismaClient on a pg pool (driver adapter), bound to one Postgres schema. `$disconnect()` closes the pool. */
export function createPrismaClient(options: CreatePrismaClientOptions): PrismaClient {
  return new PrismaClient({ adapter: prismaAdapter(options) });
}

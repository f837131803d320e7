import { mkdir } from 'node:fs/promises';
import pg from 'pg';
import { databaseOf, endpointOf, isLoopback, quoteIdent, redactUrl, withDatabase } from './endpoint.js';
import { startPgliteServer } from './pglite-server.js';

export interface PostgresHandle {
  /** `external`: a Postgres server answered; `embedded`: we started PGlite behind a socket. */
  readonly kind: 'external' | 'embedded';
  /** The URL clients should use (the one given). */
  readonly url: string;
  /** True when the database did not exist and was created. */
  readonly createdDatabase: boolean;
  /** Stops what we started (nothing for an external server). Idempotent. */
  close(): Promise<void>;
}

export interface EnsurePostgresOptions {
  /** How long to wait for an existing server to answer (default 1500 ms). */
  readonly connectTimeoutMs?: number;
  /** Progress messages (default: none). */
  readonly log?: (message: string) => void;
}

type Probe = { kind: 'ok' } | { kind: 'missing-database' } | { kind: 'unreachable'; reason: string } | { kind: 'error'; error: Error };

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL']);

async function probe(url: string, timeoutMs: number): Promise<Probe> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { kind: 'ok' };
  } catch (e) {
    // Not `instanceof Error`: errors raised by node:net may come from another realm (Jest).
    const code = (e as { code?: unknown } | null)?.code;
    const message = String((e as { message?: unknown } | null)?.message ?? e);
    const error = new Error(message);
    if (code === '3D000') return { kind: 'missing-database' };
    if ((typeof code === 'string' && UNREACHABLE.has(code)) || /timeout|terminated unexpectedly/i.test(message)) {
      return { kind: 'unreachable', reason: typeof code === 'string' ? code : message };
    }
    return { kind: 'error', error };
  } finally {
    await client.end().catch(() => {});
  }
}

async function createDatabase(url: string, timeoutMs: number): Promise<void> {
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres'), connectionTimeoutMillis: timeoutMs });
  admin.on('error', () => {});
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(databaseOf(url))}`);
  } catch (e) {
    // Another process may have created it at the same time.
    if ((e as { code?: string }).code !== '42P04') throw e;
  } finally {
    await admin.end().catch(() => {});
  }
}

/**
 * Makes sure a Postgres answers at `url`:
 * - a server answers → use it, creating the URL's database when it is missing;
 * - nothing answers on a loopback address → start an embedded PGlite (data kept in
 *   `dataDir`) serving the wire protocol on the URL's host and port, safe for several
 *   concurrent client connections (see pglite-server.ts; the database name is ignored);
 * - nothing answers on another host, or the server refuses us → throw, naming the URL.
 */
export async function ensurePostgres(url: string, dataDir: string, options: EnsurePostgresOptions = {}): Promise<PostgresHandle> {
  const timeout = options.connectTimeoutMs ?? 1_500;
  const log = options.log ?? (() => {});
  const { host, port } = endpointOf(url);
  const first = await probe(url, timeout);
  if (first.kind === 'ok' || first.kind === 'missing-database') {
    if (first.kind === 'missing-database') {
      log(`postgres: creating database ${databaseOf(url)}`);
      await createDatabase(url, timeout);
    }
    log(`postgres: using the server at ${redactUrl(url)}`);
    return { kind: 'external', url, createdDatabase: first.kind === 'missing-database', close: async () => {} };
  }
  if (first.kind === 'error') {
    throw new Error(`A Postgres server answers at ${redactUrl(url)} but refused the connection: ${first.error.message}. Fix DATABASE_URL (user, password, database).`);
  }
  if (!isLoopback(host)) {
    throw new Error(`No Postgres answers at ${redactUrl(url)} (${first.reason}). An embedded one is only started on a loopback address; check DATABASE_URL.`);
  }
  await mkdir(dataDir, { recursive: true });
  log(`postgres: none answers at ${host}:${port}; starting embedded PGlite (data in ${dataDir})`);
  const server = await startPgliteServer({ dataDir, host, port });
  return { kind: 'embedded', url, createdDatabase: false, close: () => server.close() };
}

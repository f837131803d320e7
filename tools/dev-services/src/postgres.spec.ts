import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensurePostgres } from './postgres.js';

const LOCAL = 'postgresql://postgres@127.0.0.1:5432';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('ensurePostgres against the running server', () => {
  it('uses it and creates the database when missing', async () => {
    const name = `stratum_devsvc_${randomBytes(4).toString('hex')}`;
    const url = `${LOCAL}/${name}`;
    const dataDir = join(tmpdir(), 'stratum-never-used');
    try {
      const first = await ensurePostgres(url, dataDir);
      expect(first).toMatchObject({ kind: 'external', createdDatabase: true });
      expect(await withClient(url, async (c) => (await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db)).toBe(name);
      const second = await ensurePostgres(url, dataDir);
      expect(second).toMatchObject({ kind: 'external', createdDatabase: false });
      await second.close();
    } finally {
      await withClient(`${LOCAL}/postgres`, (c) => c.query(`DROP DATABASE IF EXISTS "${name}"`));
    }
  });

  it('refuses to embed on a host that is not loopback', async () => {
    await expect(ensurePostgres('postgresql://postgres@192.0.2.1:5432/x', '/tmp/none', { connectTimeoutMs: 200 })).rejects.toThrow(/No Postgres answers.*DATABASE_URL/);
  });
});

describe('ensurePostgres with embedded PGlite', () => {
  it('keeps data in its directory across restarts', async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), 'stratum-pglite-'));
    const url = `postgresql://postgres@127.0.0.1:${port}/stratum`;
    try {
      const first = await ensurePostgres(url, dataDir, { connectTimeoutMs: 500 });
      expect(first.kind).toBe('embedded');
      await withClient(url, async (c) => {
        await c.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
        await c.query('INSERT INTO notes VALUES ($1, $2)', [1, 'kept between runs']);
        expect((await c.query('SELECT body FROM notes WHERE id = $1', [1])).rows).toEqual([{ body: 'kept between runs' }]);
      });
      await first.close();
      await expect(withClient(url, (c) => c.query('SELECT 1'))).rejects.toThrow();

      const second = await ensurePostgres(url, dataDir, { connectTimeoutMs: 500 });
      expect(second.kind).toBe('embedded');
      try {
        expect(await withClient(url, async (c) => (await c.query<{ id: number; body: string }>('SELECT id, body FROM notes')).rows)).toEqual([{ id: 1, body: 'kept between runs' }]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('serves several pools at once without mixing their queries or transactions', async () => {
    const port = await freePort();
    const url = `postgresql://postgres@127.0.0.1:${port}/stratum`;
    const handle = await ensurePostgres(url, 'memory://', { connectTimeoutMs: 500 });
    const pools = [0, 1, 2].map(() => new pg.Pool({ connectionString: url, max: 4 }));
    try {
      await pools[0]!.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
      const results = await Promise.all(
        Array.from({ length: 240 }, async (_, i) => {
          const pool = pools[i % 3]!;
          if (i % 2 === 0) {
            const r = await pool.query('SELECT $1::int * 2 AS v, $2::text AS s', [i, `x${i}`]);
            return r.rows[0].v === i * 2 && r.rows[0].s === `x${i}`;
          }
          const c = await pool.connect();
          try {
            await c.query('BEGIN');
            await c.query('INSERT INTO t VALUES ($1, $2)', [i, `v${i}`]);
            const r = await c.query('SELECT v FROM t WHERE id = $1', [i]);
            await c.query(i % 4 === 1 ? 'ROLLBACK' : 'COMMIT');
            return r.rows[0]?.v === `v${i}`;
          } finally {
            c.release();
          }
        }),
      );
      expect(results.every(Boolean)).toBe(true);
      // odd i: 120 transactions, those with i % 4 === 1 (60) rolled back.
      expect((await pools[1]!.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(60);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await handle.close();
    }
  });

  it('rolls back the open transaction of a client that disconnects', async () => {
    const port = await freePort();
    const url = `postgresql://postgres@127.0.0.1:${port}/stratum`;
    const handle = await ensurePostgres(url, 'memory://', { connectTimeoutMs: 500 });
    try {
      await withClient(url, (c) => c.query('CREATE TABLE t (id int)'));
      const quitter = new pg.Client({ connectionString: url });
      await quitter.connect();
      await quitter.query('BEGIN');
      await quitter.query('INSERT INTO t VALUES (1)');
      await quitter.end();
      expect(await withClient(url, async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]?.n)).toBe(0);
    } finally {
      await handle.close();
    }
  });
});

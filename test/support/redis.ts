// Test clean-up of one file's Redis keys (each test file uses its own REDIS_PREFIX).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { readProcessEnv } from '#infra/config';

/** Deletes every key under `<prefix>:`; with no connection given, opens (and closes) one. */
export async function dropRedisPrefix(prefix: string, redis?: Redis): Promise<void> {
  const conn = redis ?? new Redis(readProcessEnv().REDIS_URL);
  try {
    const keys = await conn.keys(`${prefix}:*`);
    if (keys.length) await conn.del(...keys);
  } finally {
    if (!redis) conn.disconnect();
  }
}

/** How a private server protects itself: a default-user password, ACL users, TLS (only). */
export interface PrivateRedisOptions {
  /** `--requirepass`: the default user's password. */
  requirepass?: string;
  /** Extra ACL users with every permission (`user <name> on ><password> ~* &* +@all`). */
  users?: { name: string; password: string }[];
  /** TLS only (the plain port is closed): files from makeTlsFiles. */
  tls?: TlsFiles;
}

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * A throw-away CA and a server certificate for localhost / 127.0.0.1 signed by it (openssl,
 * P-256 keys), written into `dir`.
 */
export function makeTlsFiles(dir: string): TlsFiles {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=stratum test CA');
  openssl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '1', '-extfile', f('server.ext'));
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') };
}

export interface PrivateRedis {
  /** redis:// (or rediss://localhost for TLS), without credentials. */
  url: string;
  port: number;
  /** Connected as the default user (with requirepass when set). */
  client: Redis;
  /** Flushes everything and restarts the server with nothing kept (no persistence), same port. */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free port, without persistence, for tests that
 * restart Redis (the shared one on 6379 serves every other test file at the same time).
 */
export async function startPrivateRedis(port: number, options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  let child: ChildProcess;
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.tls) {
    const t = options.tls;
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', t.certFile, '--tls-key-file', t.keyFile, '--tls-ca-cert-file', t.caFile, '--tls-auth-clients', 'no');
  } else {
    args.push('--port', String(port));
  }
  if (options.requirepass) args.push('--requirepass', options.requirepass);
  for (const u of options.users ?? []) args.push('--user', u.name, 'on', `>${u.password}`, '~*', '&*', '+@all');
  const connection: RedisOptions = {
    port,
    host: options.tls ? 'localhost' : '127.0.0.1',
    ...(options.requirepass ? { password: options.requirepass } : {}),
    ...(options.tls ? { tls: { ca: readFileSync(options.tls.caFile), servername: 'localhost' } } : {}),
  };
  const spawnServer = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    const probe = new Redis({ ...connection, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    for (let i = 0; ; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch (e) {
        if (i > 200) throw new Error(`redis-server on ${port} did not answer`, { cause: e });
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  };
  await spawnServer();
  const client = new Redis({ ...connection, maxRetriesPerRequest: null });
  const stopServer = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    url: options.tls ? `rediss://localhost:${port}` : `redis://127.0.0.1:${port}`,
    port,
    client,
    async restartEmpty() {
      await client.flushall();
      await stopServer();
      await spawnServer();
    },
    async stop() {
      client.disconnect();
      await stopServer();
    },
  };
}

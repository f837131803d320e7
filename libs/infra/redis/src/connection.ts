// How a Redis connection is made from the configuration: one pure mapping, used by every
// client Stratum opens (commands, queues, BullMQ workers, subscriptions).
import { readFileSync } from 'node:fs';
import type { RedisOptions } from 'ioredis';

/** Where and how to connect: REDIS_URL plus the optional credentials and CA file. */
export interface RedisTarget {
  /** redis://[user[:password]@]host[:port][/db] or rediss:// (TLS). */
  url: string;
  /** ACL user; overrides one in the URL. */
  username?: string | undefined;
  /** requirepass / ACL password; overrides one in the URL. */
  password?: string | undefined;
  /** PEM CA bundle that signed the server's certificate (rediss:// only). */
  tlsCaFile?: string | undefined;
}

/** The Redis part of the configuration, as a target. */
export function redisTargetOf(env: { REDIS_URL: string; REDIS_USERNAME?: string | undefined; REDIS_PASSWORD?: string | undefined; REDIS_TLS_CA_FILE?: string | undefined }): RedisTarget {
  return { url: env.REDIS_URL, username: env.REDIS_USERNAME, password: env.REDIS_PASSWORD, tlsCaFile: env.REDIS_TLS_CA_FILE };
}

/**
 * The ioredis connection options of a target: host, port, db, the ACL user and password
 * (separate variables win over the URL's user-info) and, for rediss://, TLS verified against
 * the system CAs or REDIS_TLS_CA_FILE. A CA file with a redis:// URL is a configuration error
 * (it would silently connect in clear).
 */
export function redisConnectionOptions(target: RedisTarget | string, readCa: (path: string) => Buffer = readFileSync): RedisOptions {
  const t: RedisTarget = typeof target === 'string' ? { url: target } : target;
  const u = new URL(t.url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error('REDIS_URL must start with redis:// or rediss://');
  const tls = u.protocol === 'rediss:';
  if (t.tlsCaFile && !tls) throw new Error('REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss://');
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const options: RedisOptions = { host, port: u.port ? Number(u.port) : 6379 };
  const db = u.pathname.replace(/^\//, '');
  if (db !== '') {
    if (!/^\d+$/.test(db)) throw new Error('REDIS_URL: the path must be a database number');
    options.db = Number(db);
  }
  const username = t.username ?? (u.username ? decodeURIComponent(u.username) : undefined);
  const password = t.password ?? (u.password ? decodeURIComponent(u.password) : undefined);
  if (username !== undefined) options.username = username;
  if (password !== undefined) options.password = password;
  if (tls) options.tls = { servername: host, ...(t.tlsCaFile ? { ca: readCa(t.tlsCaFile) } : {}) };
  return options;
}

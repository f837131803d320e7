// Hostile suite, issue 9 items 6 and 10: Redis that refuses anonymous clients (a password, an
// ACL user, TLS with a private CA) serves the real gateway and worker processes, every Redis
// client of theirs (commands, BullMQ producer and consumer, pub/sub) authenticating; and a
// configuration error never prints a secret. Real processes from dist/, real Postgres.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { writeTinyRepository } from '#tools/model-builders';
import { seedDemo } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { freePort, startApp, waitAlive, type RunningApp } from '../support/processes.js';
import { makeTlsFiles, startPrivateRedis, type PrivateRedis } from '../support/redis.js';

const PEPPER = 'hostile-redis-auth-pepper-' + 'x'.repeat(16);
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const ACL_PASSWORD = `acl-${randomBytes(8).toString('hex')}`;

let db: TestDatabase;
let dir: string;
let testKey: string;
let plain: PrivateRedis;
let tls: PrivateRedis;
const apps: RunningApp[] = [];

beforeAll(async () => {
  db = await createTestDatabase('hostile_redis_auth');
  dir = mkdtempSync(join(tmpdir(), 'stratum-hostile-redis-'));
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(dir, 'keys.json') });
  testKey = seeded.testKey.secret!;
  writeTinyRepository(join(dir, 'repo'), [{ name: 'tiny-classifier', versions: ['1'], config: { default_version: '1' } }]);
  plain = await startPrivateRedis(await freePort(), { requirepass: PASSWORD, users: [{ name: 'stratum', password: ACL_PASSWORD }] });
  tls = await startPrivateRedis(await freePort(), { requirepass: PASSWORD, tls: makeTlsFiles(dir) });
}, 60_000);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  await plain?.stop();
  await tls?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function baseEnv(prefix: string): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '3',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    MODEL_REPOSITORY: join(dir, 'repo'),
    MODEL_STORAGE_DIR: join(dir, 'storage'),
    WORKER_POOLS: 'tiny',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
}

async function started(name: 'gateway' | 'worker', env: Record<string, string>, waitReady = true): Promise<RunningApp> {
  const app = await startApp(name, env, { waitReady, timeoutMs: 60_000 });
  apps.push(app);
  return app;
}

/** One inference through the queue: the gateway enqueues (BullMQ), the worker consumes and answers. */
async function infer(gateway: RunningApp): Promise<number> {
  const res = await fetch(`${gateway.url}/v2/models/tiny-classifier/infer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${testKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: [0.5, -1, 2, 0.25, 1, 1, -0.5, 3] }] }),
  });
  await res.text();
  return res.status;
}

/** What the server answers a client that did not authenticate (raw RESP over a socket). */
function anonymousReply(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.once('data', (d: Buffer) => {
      socket.destroy();
      resolve(d.toString('latin1'));
    });
    socket.once('error', reject);
  });
}

/** Keys the apps wrote under their prefix, read with the server's admin password. */
async function keysUnder(server: PrivateRedis, prefix: string): Promise<string[]> {
  return server.client.keys(`${prefix}:*`);
}

describe('a Redis that requires authentication', () => {
  // item 6: the server refuses anonymous clients; the apps get through with REDIS_PASSWORD.
  it('serves gateway and worker that authenticate with REDIS_PASSWORD (requirepass)', async () => {
    expect(await anonymousReply(plain.port, 'GET x')).toMatch(/^-NOAUTH/);

    const prefix = `hra_${randomBytes(4).toString('hex')}`;
    const env = { ...baseEnv(prefix), REDIS_URL: plain.url, REDIS_PASSWORD: PASSWORD };
    const [gateway] = await Promise.all([started('gateway', env), started('worker', env)]);
    expect(await infer(gateway)).toBe(200);
    // The verified key is cached there, signed.
    const cached = (await keysUnder(plain, prefix)).filter((k) => k.includes(':apikey:'));
    expect(cached.length).toBeGreaterThan(0);
    expect(await plain.client.get(cached[0]!)).toMatch(/^s1\./);
  });

  // item 6: an ACL user, named in the URL for the gateway and by REDIS_USERNAME/REDIS_PASSWORD for the worker.
  it('serves gateway and worker that log in as an ACL user', async () => {
    const prefix = `hra_${randomBytes(4).toString('hex')}`;
    const inUrl = plain.url.replace('redis://', `redis://stratum:${ACL_PASSWORD}@`);
    const [gateway] = await Promise.all([
      started('gateway', { ...baseEnv(prefix), REDIS_URL: inUrl }),
      started('worker', { ...baseEnv(prefix), REDIS_URL: plain.url, REDIS_USERNAME: 'stratum', REDIS_PASSWORD: ACL_PASSWORD }),
    ]);
    expect(await infer(gateway)).toBe(200);
    const clients = await plain.client.client('LIST');
    expect(String(clients)).toMatch(/user=stratum/);
  });

  // item 6: without the password the gateway stays alive but not ready, and answers no prediction.
  it('keeps a gateway without the password out of service', async () => {
    const prefix = `hra_${randomBytes(4).toString('hex')}`;
    const gateway = await started('gateway', { ...baseEnv(prefix), REDIS_URL: plain.url, LOG_LEVEL: 'error' }, false);
    await waitAlive(gateway);
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(503);
    expect(await keysUnder(plain, prefix)).toEqual([]);
  }, 90_000);
});

describe('Redis over TLS (rediss://)', () => {
  // item 6: TLS only, the server's certificate signed by a private CA given in REDIS_TLS_CA_FILE.
  it('serves gateway and worker over rediss:// with REDIS_TLS_CA_FILE', async () => {
    const prefix = `hrt_${randomBytes(4).toString('hex')}`;
    const env = { ...baseEnv(prefix), REDIS_URL: tls.url, REDIS_PASSWORD: PASSWORD, REDIS_TLS_CA_FILE: join(dir, 'ca.pem') };
    const [gateway] = await Promise.all([started('gateway', env), started('worker', env)]);
    expect(await infer(gateway)).toBe(200);
    expect((await keysUnder(tls, prefix)).length).toBeGreaterThan(0);
  });

  // item 6: the certificate is verified: without the CA (system CAs only) the gateway does not connect.
  it('does not connect when the server certificate is not trusted', async () => {
    const prefix = `hrt_${randomBytes(4).toString('hex')}`;
    const gateway = await started('gateway', { ...baseEnv(prefix), REDIS_URL: tls.url, REDIS_PASSWORD: PASSWORD, LOG_LEVEL: 'error' }, false);
    await waitAlive(gateway);
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(503);
  }, 90_000);
});

describe('configuration errors', () => {
  // item 10: a bad configuration is reported by name, without echoing a secret.
  it('name the bad variables without printing the pepper, the Redis password or a URL password', async () => {
    const secrets = ['short-secret-pepper', 'redis-url-secret-pw', 'db-url-secret-pw'];
    const app = await startApp(
      'gateway',
      {
        NODE_ENV: 'production',
        API_KEY_PEPPER: secrets[0]!,
        REDIS_URL: `http://ops:${secrets[1]}@cache.internal:6379`,
        DATABASE_URL: `mysql://app:${secrets[2]}@db.internal/stratum`,
        GATEWAY_PORT: String(await freePort()),
      },
      { waitReady: false },
    );
    const code = await new Promise<number | null>((resolve) => app.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    const out = app.output();
    for (const name of ['API_KEY_PEPPER', 'REDIS_URL', 'DATABASE_URL']) expect(out).toContain(name);
    for (const secret of secrets) expect(out).not.toContain(secret);
  });

  // item 10: the built-in pepper is refused unless NODE_ENV=development (or test) is set explicitly.
  it('refuses to start with the built-in pepper when NODE_ENV is not set', async () => {
    const app = await startApp('gateway', { NODE_ENV: '', API_KEY_PEPPER: '' }, { waitReady: false });
    const code = await new Promise<number | null>((resolve) => app.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(app.output()).toContain('API_KEY_PEPPER: must be set to a secret of your own');
  });
});

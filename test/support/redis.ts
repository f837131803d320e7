// Test clean-up of one file's Redis keys (each test file uses its own REDIS_PREFIX).
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
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

export interface PrivateRedis {
  url: string;
  port: number;
  client: Redis;
  /** Flushes everything and restarts the server with nothing kept (no persistence), same port. */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free port, without persistence, for tests that
 * restart Redis (the shared one on 6379 serves every other test file at the same time).
 */
export async function startPrivateRedis(port: number): Promise<PrivateRedis> {
  let child: ChildProcess;
  const spawnServer = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
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
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null });
  const stopServer = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
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

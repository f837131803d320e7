import { describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRedis, pingRedis } from './redis.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ensureRedis (real servers)', () => {
  it('uses the Redis that answers on 127.0.0.1:6379 without spawning anything', async () => {
    const handle = await ensureRedis('redis://127.0.0.1:6379', { command: '/nonexistent/redis-server' });
    expect(handle.kind).toBe('external');
    expect(handle.pid).toBeUndefined();
    await handle.close();
    expect(await pingRedis('127.0.0.1', 6379)).toBe(true);
  });

  it('starts redis-server on a free port, which answers PING until closed', async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'stratum-redis-'));
    try {
      expect(await pingRedis('127.0.0.1', port, 300)).toBe(false);
      const handle = await ensureRedis(`redis://127.0.0.1:${port}`, { dir });
      expect(handle.kind).toBe('spawned');
      expect(await pingRedis('127.0.0.1', port)).toBe(true);
      await handle.close();
      await handle.close();
      expect(isAlive(handle.pid!)).toBe(false);
      expect(await pingRedis('127.0.0.1', port, 300)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says exactly how to get a Redis when none answers and redis-server is missing', async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'stratum-redis-'));
    try {
      const attempt = ensureRedis(`redis://127.0.0.1:${port}`, { dir, command: 'stratum-no-such-redis-server' });
      await expect(attempt).rejects.toThrow(/docker compose up -d redis/);
      await expect(ensureRedis(`redis://127.0.0.1:${port}`, { dir, command: 'stratum-no-such-redis-server' })).rejects.toThrow(
        /apt-get install redis-server.*brew install redis/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not try to start a server for a remote host', async () => {
    await expect(ensureRedis('redis://192.0.2.1:6399', { pingTimeoutMs: 200 })).rejects.toThrow(/No Redis answers at redis:\/\/192\.0\.2\.1:6399.*REDIS_URL/s);
  });
});
